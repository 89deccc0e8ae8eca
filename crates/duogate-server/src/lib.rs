//! duogate-server (being written)
