//! The README's list of fields steady keeps but does not implement is generated from the one
//! table in code (`steady::manifest::fields::NOT_IMPLEMENTED`): this fails when they disagree.
//! `STEADY_BLESS=1 cargo test --test readme_lists_what_is_not_implemented` rewrites it.

const BEGIN: &str = "<!-- not-implemented:begin (generated from src/manifest/fields.rs) -->\n";
const END: &str = "<!-- not-implemented:end -->";

#[test]
fn the_readme_lists_exactly_the_fields_in_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find(BEGIN).expect("README has the begin marker") + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("README has the end marker")
        + start;
    let want = steady::manifest::fields::not_implemented_markdown();
    if readme[start..end] != want {
        if std::env::var_os("STEADY_BLESS").is_some() {
            let fixed = format!("{}{want}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, fixed).unwrap();
            return;
        }
        panic!(
            "README.md's list of fields not implemented is stale; run with STEADY_BLESS=1.\nwant:\n{want}\nfound:\n{}",
            &readme[start..end]
        );
    }
}
