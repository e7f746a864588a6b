//! The RON presets under `configs/noprop/presets/` must equal `NoPropConfig::table4`; if this
//! fails, regenerate them with `cargo run -p kiln-noprop --example write_presets`.

use kiln_noprop::config::{NoPropConfig, preset_text, table4_presets};

#[test]
fn preset_files_match_table4() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/noprop/presets");
    let presets = table4_presets();
    assert_eq!(presets.len(), 27);
    for (name, config) in presets {
        let path = dir.join(format!("{name}.ron"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(text, preset_text(&config).unwrap(), "{name}.ron is stale");
        let parsed: NoPropConfig = ron::from_str(&text).unwrap();
        assert_eq!(parsed, config);
        parsed.validate().unwrap();
    }
}
