/** The login form: a token (from `silo token create`), exchanged for a session cookie. */
import { html } from '../html.js';
import { page } from './layout.js';

export function loginPage(base: string, error?: string): string {
  return page(
    { base, title: 'Log in', error },
    html`<form class="login" method="post" action="${base}/login">
<h1>silo console</h1>
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Log in</button>
<p class="muted">Create one on the host with <code>silo token create --scope read</code> (or <code>write</code> to act, <code>--tenant &lt;name&gt;</code> for one tenant).</p>
</form>`,
  );
}
