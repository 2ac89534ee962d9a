// Text that comes from data (class names, run names, messages) placed in HTML markup: only
// ever as text, so a class called <img onerror=…> is shown, never run.
export const esc = (text) => String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
