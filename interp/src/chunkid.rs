//! Display form of chunk names in messages (`file.lua:3:`, `[string "x = 1"]:1:`), as PUC Lua's
//! `luaO_chunkid` formats them.

/// Maximum length of the displayed chunk id, including the brackets (PUC's `LUA_IDSIZE - 1`).
const ID_SIZE: usize = 59;

/// Formats a chunk name for use in error messages and tracebacks.
///
/// * `=name` → `name` (truncated to fit),
/// * `@file` → `file` (keeping the end, with a leading `...` if too long),
/// * anything else is source text: `[string "first line..."]`.
pub fn chunk_id(source: &[u8]) -> String {
    // Chunk names are C strings in PUC Lua: they end at the first NUL byte.
    let source = match source.iter().position(|&c| c == 0) {
        Some(p) => &source[..p],
        None => source,
    };
    match source.first() {
        Some(b'=') => {
            let rest = &source[1..];
            String::from_utf8_lossy(&rest[..rest.len().min(ID_SIZE)]).into_owned()
        }
        Some(b'@') => {
            let rest = &source[1..];
            if rest.len() <= ID_SIZE {
                String::from_utf8_lossy(rest).into_owned()
            } else {
                let keep = ID_SIZE - 3;
                format!("...{}", String::from_utf8_lossy(&rest[rest.len() - keep..]))
            }
        }
        _ => {
            const PRE: &str = "[string \"";
            const POS: &str = "\"]";
            const DOTS: &str = "...";
            let newline = source.iter().position(|&c| c == b'\n');
            let avail = ID_SIZE - PRE.len() - DOTS.len() - POS.len();
            let mut out = String::from(PRE);
            if source.len() < avail && newline.is_none() {
                out.push_str(&String::from_utf8_lossy(source));
            } else {
                let mut len = newline.unwrap_or(source.len());
                if len > avail {
                    len = avail;
                }
                out.push_str(&String::from_utf8_lossy(&source[..len]));
                out.push_str(DOTS);
            }
            out.push_str(POS);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_id;

    #[test]
    fn formats() {
        assert_eq!(chunk_id(b"=stdin"), "stdin");
        assert_eq!(chunk_id(b"@foo.lua"), "foo.lua");
        assert_eq!(chunk_id(b"x = 1"), "[string \"x = 1\"]");
        assert_eq!(chunk_id(b"x = 1\ny = 2"), "[string \"x = 1...\"]");
        let long = vec![b'a'; 100];
        assert_eq!(chunk_id(&long).len(), 59);
        // A one-line source that exactly fills the space is still abbreviated, as in PUC.
        let exact = vec![b'b'; 45];
        assert!(chunk_id(&exact).ends_with("...\"]"));
        assert_eq!(chunk_id(b"=name\0rest"), "name");
    }
}
