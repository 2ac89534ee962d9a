// The front-end's lint (`make check`): the page's ES modules (web/static/js), the classroom's
// student and teacher pages and the notebook widgets' scripts. A modest, real set of rules:
// no undefined or unused names, no implicit globals, === only (`== null` aside).
import js from "@eslint/js";
import globals from "globals";

const rules = {
  "no-undef": "error",
  "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
  "eqeqeq": ["error", "always", { null: "ignore" }],  // `== null` reads null or undefined
  "no-implicit-globals": "error",
  "no-shadow-restricted-names": "error",
  "no-var": "error",
  "prefer-const": ["error", { destructuring: "all" }],
};

export default [
  { ignores: ["node_modules/**", ".venv/**", "runs/**", "out/**", "build/**", "dist/**"] },
  js.configs.recommended,
  {
    files: ["src/digitlens/**/static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
    rules,
  },
  {
    // the widgets' scripts are joined after the page modules they use (notebook/modules.py):
    // PAGE (those modules) and h (helpers.js) come from the same ESM
    files: ["src/digitlens/notebook/static/*.js"],
    ignores: ["src/digitlens/notebook/static/helpers.js"],
    languageOptions: { globals: { PAGE: "readonly", h: "readonly" } },
  },
  {
    files: ["src/digitlens/notebook/static/helpers.js"],
    languageOptions: { sourceType: "script", globals: { h: "off" } },
    rules: { "no-unused-vars": ["error", { varsIgnorePattern: "^h$" }], "no-implicit-globals": "off" },
  },
  {
    files: ["eslint.config.js", "tests/**/*.js", "tests/**/*.mjs", "scripts/**/*.js", "scripts/**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
    rules,
  },
];
