// The one error the page's engine raises (engine.js, preprocess.js): one clear sentence for
// the page to show, never a crash or a silent wrong answer.

export class EngineError extends Error {}
