//! The `.npy` format itself: the header and the element types, read into row-major `f32` and
//! written as little-endian `f32`.

use super::NpyArray;

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Decodes a whole `.npy` file; the error says what is wrong with it.
pub(super) fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("it does not start with the .npy magic string \\x93NUMPY".into());
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => {
            return Err(format!(
                ".npy format version {major} is not supported (1–3 are)"
            ));
        }
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or("the file ends inside its header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    let descr = header_field(header, "descr")?;
    let dtype = ElementType::parse(descr.trim_matches(|c| c == '\'' || c == '"'))?;
    let fortran_order = match header_field(header, "fortran_order")? {
        "True" => true,
        "False" => false,
        other => return Err(format!("fortran_order is `{other}`, not True or False")),
    };
    let shape = parse_shape(header_field(header, "shape")?)?;
    let too_large = || format!("shape {shape:?} is too large to address");
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(too_large)?;
    let data = &bytes[data_start..];
    let needed = count.checked_mul(dtype.size).ok_or_else(too_large)?;
    if data.len() != needed {
        return Err(format!(
            "shape {shape:?} of {} needs {needed} bytes of data, the file has {}",
            dtype.name,
            data.len()
        ));
    }
    let values: Vec<f32> = data
        .chunks_exact(dtype.size)
        .map(|b| dtype.decode(b))
        .collect();
    let values = if fortran_order {
        fortran_to_c(&values, &shape)
    } else {
        values
    };
    Ok(NpyArray {
        shape,
        values,
        element_type: dtype.name,
    })
}

/// Encodes `array` as a version-1.0 `.npy` file of little-endian `f32` in C order.
pub(super) fn encode_npy(array: &NpyArray) -> Vec<u8> {
    let shape = match array.shape.as_slice() {
        [one] => format!("({one},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad with spaces so the data starts on a 64-byte boundary; the header ends in a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * array.values.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in &array.values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

/// The value of `key` in an `.npy` header (a Python dict literal), as written.
fn header_field<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let missing = || format!("the header has no `{key}`: {}", header.trim());
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))
        .ok_or_else(missing)?;
    let rest = header[at + key.len() + 2..].trim_start();
    let rest = rest.strip_prefix(':').ok_or_else(missing)?.trim_start();
    // A tuple runs to its closing parenthesis; anything else to the next comma or brace.
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(missing)?;
    Ok(rest[..end].trim())
}

/// `(3, 4)`, `(7,)` or `()` → the dimensions.
fn parse_shape(text: &str) -> Result<Vec<usize>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("shape `{text}` is not a tuple"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse()
                .map_err(|_| format!("shape `{text}` has a dimension that is not a number"))
        })
        .collect()
}

/// Reorders elements stored column-major (Fortran order) into row-major order.
fn fortran_to_c(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    let mut index = vec![0usize; shape.len()];
    for slot in out.iter_mut() {
        // `index` runs over C order; its Fortran offset has the first axis fastest.
        let mut offset = 0;
        for axis in (0..shape.len()).rev() {
            offset = offset * shape[axis] + index[axis];
        }
        *slot = values[offset];
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// An element type this reader decodes.
#[derive(Debug, Clone, Copy)]
struct ElementType {
    name: &'static str,
    kind: Kind,
    size: usize,
    big_endian: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
    Bool,
}

impl ElementType {
    /// From a NumPy `descr` such as `<f4` or `|u1`.
    fn parse(descr: &str) -> Result<Self, String> {
        let unsupported = || {
            format!(
                "element type `{descr}` is not supported (floats f2/f4/f8, integers i1–i8 and \
                 u1–u8, and bool are); convert it with `array.astype(numpy.float32)`"
            )
        };
        let mut chars = descr.chars();
        let order = chars.next().ok_or_else(unsupported)?;
        let big_endian = match order {
            '<' | '|' | '=' => false,
            '>' => true,
            _ => return Err(unsupported()),
        };
        let (kind, size) = match chars.as_str() {
            "f2" => (Kind::Float, 2),
            "f4" => (Kind::Float, 4),
            "f8" => (Kind::Float, 8),
            "i1" => (Kind::Signed, 1),
            "i2" => (Kind::Signed, 2),
            "i4" => (Kind::Signed, 4),
            "i8" => (Kind::Signed, 8),
            "u1" => (Kind::Unsigned, 1),
            "u2" => (Kind::Unsigned, 2),
            "u4" => (Kind::Unsigned, 4),
            "u8" => (Kind::Unsigned, 8),
            "b1" => (Kind::Bool, 1),
            _ => return Err(unsupported()),
        };
        let name = match (kind, size) {
            (Kind::Float, 2) => "float16",
            (Kind::Float, 4) => "float32",
            (Kind::Float, _) => "float64",
            (Kind::Signed, 1) => "int8",
            (Kind::Signed, 2) => "int16",
            (Kind::Signed, 4) => "int32",
            (Kind::Signed, _) => "int64",
            (Kind::Unsigned, 1) => "uint8",
            (Kind::Unsigned, 2) => "uint16",
            (Kind::Unsigned, 4) => "uint32",
            (Kind::Unsigned, _) => "uint64",
            (Kind::Bool, _) => "bool",
        };
        Ok(Self {
            name,
            kind,
            size,
            big_endian,
        })
    }

    /// One element's bytes → `f32`.
    fn decode(&self, bytes: &[u8]) -> f32 {
        let mut le = [0u8; 8];
        le[..self.size].copy_from_slice(bytes);
        if self.big_endian {
            le[..self.size].reverse();
        }
        match (self.kind, self.size) {
            (Kind::Float, 2) => half::f16::from_le_bytes([le[0], le[1]]).to_f32(),
            (Kind::Float, 4) => f32::from_le_bytes([le[0], le[1], le[2], le[3]]),
            (Kind::Float, _) => f64::from_le_bytes(le) as f32,
            (Kind::Unsigned, _) | (Kind::Bool, _) => u64::from_le_bytes(le) as f32,
            (Kind::Signed, size) => {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                ((i64::from_le_bytes(le) << shift) >> shift) as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `.npy` file with a hand-written header and raw data, as NumPy would write it.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let fortran = if fortran { "True" } else { "False" };
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn f32_round_trips_through_encode_and_parse() {
        let array = NpyArray::new(vec![2, 3, 1], vec![0.5, -1.0, 2.25, 3.0, 1e-7, -8e5]).unwrap();
        let bytes = encode_npy(&array);
        assert_eq!(
            (bytes.len() - 4 * 6) % 64,
            0,
            "data starts on a 64-byte boundary"
        );
        assert_eq!(parse_npy(&bytes).unwrap(), array);
        let vector = NpyArray::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!(parse_npy(&encode_npy(&vector)).unwrap(), vector);
        let scalar = NpyArray::new(vec![], vec![4.0]).unwrap();
        assert_eq!(parse_npy(&encode_npy(&scalar)).unwrap(), scalar);
    }

    #[test]
    fn decodes_other_element_types_and_byte_orders() {
        let u8s = parse_npy(&npy("|u1", false, "(4,)", &[0, 1, 128, 255])).unwrap();
        assert_eq!(u8s.values(), [0.0, 1.0, 128.0, 255.0]);
        assert_eq!(u8s.element_type(), "uint8");
        let i16s: Vec<u8> = [-3i16, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let parsed = parse_npy(&npy("<i2", false, "(2,)", &i16s)).unwrap();
        assert_eq!(parsed.values(), [-3.0, 7.0]);
        let f64s: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let parsed = parse_npy(&npy(">f8", false, "(2,)", &f64s)).unwrap();
        assert_eq!(parsed.values(), [1.5, -2.0]);
        let f16s: Vec<u8> = [0.5f32, -4.0]
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        let parsed = parse_npy(&npy("<f2", false, "(1, 2)", &f16s)).unwrap();
        assert_eq!(parsed.values(), [0.5, -4.0]);
        assert_eq!(parsed.shape(), [1, 2]);
    }

    #[test]
    fn fortran_order_is_reordered_to_row_major() {
        // The 2×3 matrix [[0, 1, 2], [3, 4, 5]] stored column by column.
        let column_major: Vec<u8> = [0f32, 3.0, 1.0, 4.0, 2.0, 5.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let parsed = parse_npy(&npy("<f4", true, "(2, 3)", &column_major)).unwrap();
        assert_eq!(parsed.values(), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // Rank 3: element (i, j, k) of a 2×2×2 array sits at i + 2j + 4k.
        let values: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let parsed = parse_npy(&npy("<f4", true, "(2, 2, 2)", &bytes)).unwrap();
        assert_eq!(parsed.values(), [0.0, 4.0, 2.0, 6.0, 1.0, 5.0, 3.0, 7.0]);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let err = parse_npy(b"PK\x03\x04 not an npy file").unwrap_err();
        assert!(err.contains("magic"), "{err}");
        let err = parse_npy(&npy("<c8", false, "(1,)", &[0; 8])).unwrap_err();
        assert!(err.contains("`<c8` is not supported"), "{err}");
        let err = parse_npy(&npy("<f4", false, "(3,)", &[0; 8])).unwrap_err();
        assert!(err.contains("needs 12 bytes"), "{err}");
        let err = parse_npy(&npy("<f4", false, "(a, 2)", &[])).unwrap_err();
        assert!(err.contains("not a number"), "{err}");
        let huge = format!("({}, 4)", usize::MAX / 2);
        let err = parse_npy(&npy("<f4", false, &huge, &[])).unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }
}
