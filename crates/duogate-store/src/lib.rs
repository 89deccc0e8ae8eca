//! duogate-store (being written)
