//! Model-based property test of the wallet rules (being written).
