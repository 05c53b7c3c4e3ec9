//! topic (work in progress)
