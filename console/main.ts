/**
 * The agent console's entry point (bundled into dist/console/console.js by
 * scripts/build-console.ts): defines the elements; index.html places `<imc-console-app>`.
 */
import './components/console-app/console-app.js'
