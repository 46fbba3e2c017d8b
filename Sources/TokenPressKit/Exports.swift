// `import TokenPressKit` (the `TokenPress` product) gives the whole public API: the engine and its sessions, the
// presses and their registry, the KV cache, sampling and the tokenizer — one import for a dependent package.
@_exported import Engine
@_exported import KVCache
@_exported import Presses
@_exported import Sampling
@_exported import Tokenizer
