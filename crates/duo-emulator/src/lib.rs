//! duo-emulator (being written)
