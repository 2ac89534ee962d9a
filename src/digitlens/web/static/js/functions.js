// Activations and their derivatives, side by side (digitlens/nn/functions.py is the
// reference): the forward pass (engine.js) and the backward pass (gradient.js) read the same
// table, so a function and its derivative never drift apart.

export const ACTIVATIONS = {
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  relu: (z) => (z > 0 ? z : 0),
  tanh: Math.tanh,
  identity: (z) => z,
};

// f'(z) in terms of a = f(z), as digitlens.nn.functions.derivative: the backward pass keeps
// only each layer's output, never its z
export const DERIVATIVES = {
  sigmoid: (a) => a * (1 - a),
  relu: (a) => (a > 0 ? 1 : 0),
  tanh: (a) => 1 - a * a,
  identity: () => 1,
};
