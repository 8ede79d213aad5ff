//! Managing users, organisations and members.
