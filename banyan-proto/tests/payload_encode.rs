//! Encoding: serde conventions a Python dict relies on, encoding errors, `MapWriter`.

use banyan_proto::payload::{self, MapWriter, PayloadError};
use serde::Serialize;

/// `{'message_number': 10}` from Python.
const ECHO: &[u8] = b"\x81\xaemessage_number\x0a";

#[derive(Serialize)]
struct Echo {
    message_number: u32,
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PayloadError> {
    let mut buf = vec![0u8; 1 << 16];
    let len = payload::to_slice(value, &mut buf)?;
    buf.truncate(len);
    Ok(buf)
}

#[derive(Serialize)]
struct Sample<'a> {
    id: u64,
    name: &'a str,
    #[serde(with = "serde_bytes")]
    raw: &'a [u8],
    list: [i16; 3],
    maybe: Option<f32>,
}

fn sample() -> Sample<'static> {
    Sample {
        id: 1 << 40,
        name: "sensor",
        raw: &[0xde, 0xad],
        list: [-1, 300, -300],
        maybe: Some(1.5),
    }
}

#[test]
fn serde_conventions_match_python_dicts() {
    #[derive(Serialize)]
    struct WithNone {
        a: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<u8>,
    }
    // {'a': None}
    assert_eq!(
        encode(&WithNone { a: None, b: None }).unwrap(),
        b"\x81\xa1a\xc0"
    );

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        DigitalInput,
    }
    #[derive(Serialize)]
    struct Report {
        report: Kind,
    }
    // {'report': 'digital_input'}
    assert_eq!(
        encode(&Report {
            report: Kind::DigitalInput
        })
        .unwrap(),
        b"\x81\xa6report\xaddigital_input"
    );

    // A byte slice without serde_bytes is a list of ints: the documented pitfall.
    #[derive(Serialize)]
    struct NoBytes<'a> {
        d: &'a [u8],
    }
    assert_eq!(
        encode(&NoBytes { d: &[1, 200] }).unwrap(),
        b"\x81\xa1d\x92\x01\xcc\xc8"
    );

    // Integer *type* does not matter, only the value (as in Python).
    #[derive(Serialize)]
    struct Wide {
        v: u64,
        w: i64,
    }
    assert_eq!(
        encode(&Wide { v: 10, w: -1 }).unwrap(),
        b"\x82\xa1v\x0a\xa1w\xff"
    );

    // f32 keeps float 32; 1.0_f64 stays float 64.
    #[derive(Serialize)]
    struct Floats {
        a: f32,
        b: f64,
    }
    assert_eq!(
        encode(&Floats { a: 1.0, b: 1.0 }).unwrap(),
        b"\x82\xa1a\xca\x3f\x80\0\0\xa1b\xcb\x3f\xf0\0\0\0\0\0\0"
    );
}

#[test]
fn encoding_errors() {
    #[derive(Serialize)]
    struct Big {
        v: u128,
        w: i128,
    }
    assert_eq!(
        encode(&Big { v: 1 << 64, w: 0 }),
        Err(PayloadError::Unsupported)
    );
    assert_eq!(
        encode(&Big {
            v: 0,
            w: -(1 << 63) - 1
        }),
        Err(PayloadError::Unsupported)
    );
    assert_eq!(
        encode(&Big {
            v: u64::MAX.into(),
            w: i64::MIN.into()
        })
        .unwrap()[..6],
        *b"\x82\xa1v\xcf\xff\xff"
    );

    struct Failing;
    impl Serialize for Failing {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("nope"))
        }
    }
    #[derive(Serialize)]
    struct HasFailing {
        f: Failing,
    }
    assert_eq!(
        encode(&HasFailing { f: Failing }),
        Err(PayloadError::Custom)
    );

    // Every buffer shorter than the payload is BufferFull, never a panic or a short write.
    let full = encode(&sample()).unwrap();
    for size in 0..full.len() {
        let mut buf = vec![0u8; size];
        assert_eq!(
            payload::to_slice(&sample(), &mut buf),
            Err(PayloadError::BufferFull)
        );
    }
}

/// Without `std` (no alloc) the backend must know lengths up front.
#[test]
fn unknown_lengths() {
    /// A map that does not announce its length, as `#[serde(flatten)]` or
    /// `Serializer::collect_map` over a filtering iterator do.
    struct Unsized;
    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("message_number", &10u8)?;
            map.end()
        }
    }
    let got = encode(&Unsized);
    if cfg!(feature = "std") {
        assert_eq!(got.unwrap(), ECHO);
    } else {
        assert_eq!(got, Err(PayloadError::LengthRequired));
    }
}

#[cfg(feature = "std")]
#[test]
fn flatten_works_with_std() {
    #[derive(Serialize)]
    struct Flat {
        a: u8,
        #[serde(flatten)]
        rest: Echo,
    }
    let got = encode(&Flat {
        a: 1,
        rest: Echo { message_number: 10 },
    });
    assert_eq!(got.unwrap(), b"\x82\xa1a\x01\xaemessage_number\x0a");
}

#[test]
fn map_writer_builds_python_maps() {
    let mut buf = [0u8; 64];
    let mut w = MapWriter::new(&mut buf, 1).unwrap();
    w.entry("message_number", &10u8).unwrap();
    let len = w.finish().unwrap();
    assert_eq!(&buf[..len], ECHO);

    // Chained, mixed values, nested map from a struct.
    let mut buf = [0u8; 64];
    let mut w = MapWriter::new(&mut buf, 3).unwrap();
    w.entry("a", &-33i64)
        .unwrap()
        .entry("b", serde_bytes::Bytes::new(&[1]))
        .unwrap()
        .entry("c", &Echo { message_number: 1 })
        .unwrap();
    let len = w.finish().unwrap();
    assert_eq!(
        &buf[..len],
        b"\x83\xa1a\xd0\xdf\xa1b\xc4\x01\x01\xa1c\x81\xaemessage_number\x01"
    );

    // Headers: fixmap up to 15, map 16 from 16, map 32 above 65535.
    for (n, header) in [
        (0u32, &b"\x80"[..]),
        (15, b"\x8f"),
        (16, b"\xde\x00\x10"),
        (65535, b"\xde\xff\xff"),
        (65536, b"\xdf\x00\x01\x00\x00"),
    ] {
        let mut buf = [0u8; 8];
        let w = MapWriter::new(&mut buf, n).unwrap();
        if n == 0 {
            assert_eq!(w.finish(), Ok(1));
        } else {
            assert_eq!(w.finish(), Err(PayloadError::EntryCount));
        }
        assert_eq!(&buf[..header.len()], header);
    }

    // Too many entries, too small a buffer; a failed entry leaves nothing behind.
    let mut buf = [0u8; 8];
    let mut w = MapWriter::new(&mut buf, 1).unwrap();
    assert_eq!(
        w.entry("long key", &1u8).err(),
        Some(PayloadError::BufferFull)
    );
    w.entry("k", &1u8).unwrap();
    assert_eq!(w.entry("k", &2u8).err(), Some(PayloadError::EntryCount));
    assert_eq!(w.finish(), Ok(4));
    assert_eq!(&buf[..4], b"\x81\xa1k\x01");
    assert_eq!(
        MapWriter::new(&mut [], 0).err(),
        Some(PayloadError::BufferFull)
    );
    assert_eq!(
        MapWriter::new(&mut [0u8; 2], 16).err(),
        Some(PayloadError::BufferFull)
    );
}
