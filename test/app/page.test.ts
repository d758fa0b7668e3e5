import t from 'tap';
import { escapeHtml, renderErrorPage, renderPollsPage } from '../../src/app/page.js';
import { parseChoices } from '../../src/app/forms.js';

t.test('escapeHtml escapes the five HTML-significant characters', async (t) => {
  t.equal(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  t.equal(escapeHtml(42), '42');
});

t.test('the page escapes every user string and has stable hooks', async (t) => {
  const html = renderPollsPage('acme', [
    {
      id: 7,
      question: '<script>alert(1)</script>',
      createdAt: new Date(0).toISOString(),
      choices: [
        { id: 70, text: '"><img src=x onerror=alert(1)>', votes: 3 },
        { id: 71, text: "it's", votes: 0 },
      ],
    },
  ]);
  t.match(html, '<h1 id="tenant">acme</h1>');
  t.match(html, '<section class="poll" data-poll-id="7">');
  t.match(html, '<span class="votes" data-choice-id="70">3</span>');
  t.match(html, '<form method="post" action="/polls/7/vote">');
  t.match(html, 'name="choiceId" value="70"');
  t.match(html, '<form method="post" action="/polls">');
  t.notMatch(html, '<script');
  t.notMatch(html, '<img');
  t.match(html, '&lt;script&gt;alert(1)&lt;/script&gt;');
  t.match(html, 'it&#39;s');
});

t.test('an empty tenant gets a friendly page with the new poll form', async (t) => {
  const html = renderPollsPage('acme', []);
  t.match(html, 'id="no-polls"');
  t.match(html, 'textarea name="choices"');
});

t.test('the error page escapes its message and links back', async (t) => {
  const html = renderErrorPage('acme', 400, '<b>bad</b>');
  t.match(html, '&lt;b&gt;bad&lt;/b&gt; (400)');
  t.match(html, '<a href="/">');
});

t.test('parseChoices reads one choice per line', async (t) => {
  t.same(parseChoices(' a \r\n\r\nb\n  \nc'), ['a', 'b', 'c']);
  const count = { statusCode: 400, message: 'a poll needs 2 to 10 choices, one per line' };
  t.throws(() => parseChoices('only one'), count);
  t.throws(() => parseChoices('\n\n'), count);
  t.throws(() => parseChoices(Array.from({ length: 11 }, (_, i) => `c${i}`).join('\n')), count);
  t.throws(() => parseChoices(`a\n${'b'.repeat(101)}`), { statusCode: 400, message: 'a choice is at most 100 characters' });
  t.same(parseChoices(`a\n${'é'.repeat(100)}`).length, 2, '100 characters, not bytes');
});
