//! The console's TypeScript types are generated from the protocol types:
//! `console/src/bindings.ts` must be what they generate now.

#[test]
fn console_bindings_are_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console/src/bindings.ts");
    let fresh = invigil_core::protocol::typescript();
    if std::env::var_os("INVIGIL_UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed, fresh,
        "console/src/bindings.ts is stale: rerun with INVIGIL_UPDATE_BINDINGS=1"
    );
}
