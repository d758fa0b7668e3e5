/** The browser test (browser.test.ts) over HTTPS: SILO_TLS=on with silo's local CA, trusted by Chromium. */
process.env.SILO_BROWSER_TLS = '1';
await import('./browser.test.js');
