/**
 * Demo data for the sample app: `silo up` on an empty registry creates client1 and
 * client2 and calls this for each, so the two tenants visibly hold different data.
 */
import type { Sql } from 'postgres';

const DEMO: Record<string, { question: string; choices: string[] }[]> = {
  client1: [
    { question: 'Which feature should we build next?', choices: ['Dark mode', 'CSV export', 'Single sign-on'] },
    { question: 'How did you hear about client1?', choices: ['A colleague', 'A search engine', 'A conference'] },
  ],
  client2: [
    { question: 'Where should the team offsite be?', choices: ['Lisbon', 'Kraków', 'Tallinn'] },
    { question: 'Tea or coffee?', choices: ['Tea', 'Coffee'] },
  ],
};

export async function seedDemo(sql: Sql, tenant: string): Promise<void> {
  const polls = DEMO[tenant] ?? [{ question: `Welcome to ${tenant}: is this your first poll?`, choices: ['Yes', 'No'] }];
  await sql.begin(async (tx) => {
    const [{ n }] = (await tx`select count(*)::int as n from polls`) as unknown as [{ n: number }];
    if (n > 0) return; // idempotent: never seed twice
    for (const p of polls) {
      const [poll] = await tx`insert into polls (question) values (${p.question}) returning id`;
      const rows = p.choices.map((text, i) => ({ poll_id: poll!.id as string, position: i + 1, text }));
      await tx`insert into choices ${tx(rows, 'poll_id', 'position', 'text')}`;
    }
  });
}
