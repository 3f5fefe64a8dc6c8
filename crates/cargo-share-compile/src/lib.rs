//! cargo-share's wrapper and linker side: what Cargo runs for every compiler invocation and
//! link, and what that needs below it. It depends on no other crate of cargo-share.
