//! duo-client (being written)
