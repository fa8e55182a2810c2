//! Check-in measures on webcam-sized photographs (tests/fixtures/checkin,
//! built by tests/fixtures/make_checkin.py) and on variations made here:
//! lighting, tilt, blur, distance.
//!
//! `cargo test -p invigil-vision --test checkin -- --nocapture` prints the
//! measures behind each verdict.

use std::path::{Path, PathBuf};

use invigil_core::Frame;
use invigil_vision::checkin::{
    assess_face_photo, assess_id_photo, assess_room_view, find_document, CheckInPolicy,
    ViewSignature,
};
use invigil_vision::{FaceDetector, ModelKind};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn load(rel: &str) -> Frame {
    let img = image::open(dir().join(rel)).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(0, w, h, img.into_raw()).unwrap()
}

fn detector() -> FaceDetector {
    let mut d = FaceDetector::new(ModelKind::Back256).unwrap();
    d.set_min_score(0.5);
    d
}

fn scaled(f: &Frame, gain: f32) -> Frame {
    let mut out = f.clone();
    for v in &mut out.rgb {
        *v = (f32::from(*v) * gain).min(255.0) as u8;
    }
    out
}

/// Nearest-neighbour resize (webcam resolutions other than 640x480).
fn resized(f: &Frame, w: u32, h: u32) -> Frame {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let p = f.pixel(x * f.width / w, y * f.height / h);
            rgb.extend_from_slice(&p);
        }
    }
    Frame::new(0, w, h, rgb).unwrap()
}

/// Rotates about the centre (nearest neighbour), filling with grey.
fn rotated(f: &Frame, degrees: f32) -> Frame {
    let (c, s) = (degrees.to_radians().cos(), degrees.to_radians().sin());
    let (cx, cy) = (f.width as f32 / 2.0, f.height as f32 / 2.0);
    let mut rgb = Vec::with_capacity(f.rgb.len());
    for y in 0..f.height {
        for x in 0..f.width {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let sx = c * dx + s * dy + cx;
            let sy = -s * dx + c * dy + cy;
            if sx >= 0.0 && sy >= 0.0 && (sx as u32) < f.width && (sy as u32) < f.height {
                rgb.extend_from_slice(&f.pixel(sx as u32, sy as u32));
            } else {
                rgb.extend_from_slice(&[110, 110, 110]);
            }
        }
    }
    Frame::new(0, f.width, f.height, rgb).unwrap()
}

fn faces(d: &mut FaceDetector, f: &Frame) -> Vec<invigil_core::Face> {
    d.detect(f).unwrap()
}

fn codes(a: &invigil_vision::checkin::Assessment) -> Vec<&'static str> {
    a.problems.iter().map(|p| p.code).collect()
}

#[test]
fn face_photo_wants_one_centred_large_lit_face() {
    let policy = CheckInPolicy::default();
    let mut d = detector();
    let face = load("checkin/face.jpg");
    let a = assess_face_photo(&face, &faces(&mut d, &face), &policy);
    println!("face.jpg {:?} {:?}", codes(&a), a.measures);
    assert!(a.ready, "{a:?}");
    // Other webcam sizes.
    for (w, h) in [(1280, 720), (320, 240)] {
        let f = resized(&face, w, h);
        let a = assess_face_photo(&f, &faces(&mut d, &f), &policy);
        assert!(a.ready, "{w}x{h}: {a:?}");
    }
    // Dim, but the face is still lit enough after auto-gain detection.
    let dim = scaled(&face, 0.25);
    let a = assess_face_photo(&dim, &faces(&mut d, &dim), &policy);
    println!("dim {:?} {:?}", codes(&a), a.measures);
    assert!(
        codes(&a).contains(&"face_too_dark") || codes(&a).contains(&"no_face"),
        "{a:?}"
    );
    // Nobody.
    let room = load("checkin/room_north.jpg");
    assert_eq!(
        codes(&assess_face_photo(&room, &faces(&mut d, &room), &policy)),
        ["no_face"]
    );
    // Several people.
    let group = load("images/group6.jpg");
    assert_eq!(
        codes(&assess_face_photo(&group, &faces(&mut d, &group), &policy)),
        ["several_faces"]
    );
    // Small and off to the side: the astronaut pasted into a corner.
    let mut corner = Frame::solid(0, 640, 480, [90, 95, 100]);
    let astro = resized(&load("images/astronaut.png"), 200, 200);
    for y in 0..200 {
        for x in 0..200 {
            let p = astro.pixel(x, y);
            let i = ((y as usize + 260) * 640 + x as usize + 420) * 3;
            corner.rgb[i..i + 3].copy_from_slice(&p);
        }
    }
    let a = assess_face_photo(&corner, &faces(&mut d, &corner), &policy);
    println!("corner {:?} {:?}", codes(&a), a.measures);
    assert!(codes(&a).contains(&"face_off_centre"), "{a:?}");
    assert!(codes(&a).contains(&"face_too_small"), "{a:?}");
}

#[test]
fn id_photo_wants_a_large_sharp_document_with_a_portrait() {
    let policy = CheckInPolicy::default();
    let mut d = detector();
    let id = load("checkin/id_card.jpg");
    let a = assess_id_photo(&id, &mut d, &policy).unwrap();
    println!("id_card {:?} {:?} {:?}", codes(&a), a.measures, a.document);
    assert!(a.ready, "{a:?}");
    let doc = a.document.as_ref().unwrap();
    assert!((doc.aspect - 1.586).abs() < 0.12, "{doc:?}");
    // The portrait found is the one on the card, not the person behind it.
    assert!(doc.contains(a.faces[0].center()));

    for (w, h) in [(1280, 960), (800, 600)] {
        let a = assess_id_photo(&resized(&id, w, h), &mut d, &policy).unwrap();
        println!("id_card {w}x{h} {:?} {:?}", codes(&a), a.measures);
        assert!(a.ready, "{w}x{h}: {a:?}");
    }
    for tilt in [-8.0, 8.0] {
        let a = assess_id_photo(&rotated(&id, tilt), &mut d, &policy).unwrap();
        println!("id_card tilted {tilt} {:?} {:?}", codes(&a), a.measures);
        assert!(a.ready, "tilt {tilt}: {a:?}");
    }
    let dim = scaled(&id, 0.5);
    let a = assess_id_photo(&dim, &mut d, &policy).unwrap();
    println!("id_card dim {:?} {:?}", codes(&a), a.measures);
    assert!(a.document.is_some(), "{a:?}");

    let blurry = assess_id_photo(&load("checkin/id_card_blurry.jpg"), &mut d, &policy).unwrap();
    println!("blurry {:?} {:?}", codes(&blurry), blurry.measures);
    assert_eq!(codes(&blurry), ["blurred"], "{blurry:?}");

    let far = assess_id_photo(&load("checkin/id_card_far.jpg"), &mut d, &policy).unwrap();
    println!("far {:?} {:?}", codes(&far), far.measures);
    assert!(
        codes(&far).contains(&"document_too_small") || codes(&far).contains(&"no_document"),
        "{far:?}"
    );

    for name in [
        "checkin/face.jpg",
        "checkin/room_north.jpg",
        "images/astronaut.png",
        "images/group6.jpg",
        "images/city.jpg",
        "images/poster_face.png",
    ] {
        let a = assess_id_photo(&load(name), &mut d, &policy).unwrap();
        println!("{name} {:?} {:?} {:?}", codes(&a), a.measures, a.document);
        assert!(!a.ready, "{name}: {a:?}");
    }
}

#[test]
fn room_views_must_differ_from_each_other_and_the_face_photo() {
    let policy = CheckInPolicy::default();
    let sides = ["north", "east", "south", "west", "desk"];
    let mut taken: Vec<(String, ViewSignature)> = vec![(
        "face photo".into(),
        ViewSignature::of(&load("checkin/face.jpg")),
    )];
    for side in sides {
        let f = load(&format!("checkin/room_{side}.jpg"));
        let a = assess_room_view(&f, &taken, &policy);
        println!("{side} {:?} {:?}", codes(&a), a.measures);
        assert!(a.ready, "{side}: {a:?}");
        taken.push((format!("{side} view"), ViewSignature::of(&f)));
    }
    // A step to the side is not another view; neither is the same view
    // brighter, nor the face photo again.
    let again = assess_room_view(&load("checkin/room_north_again.jpg"), &taken, &policy);
    println!("north again {:?} {:?}", codes(&again), again.measures);
    assert_eq!(codes(&again), ["same_view"]);
    assert!(again.problems[0].message.contains("north view"));
    let brighter = assess_room_view(
        &scaled(&load("checkin/room_east.jpg"), 1.2),
        &taken,
        &policy,
    );
    assert_eq!(codes(&brighter), ["same_view"], "{brighter:?}");
    let face = assess_room_view(&load("checkin/face.jpg"), &taken, &policy);
    assert_eq!(codes(&face), ["same_view"]);
    let dark = assess_room_view(&load("images/covered.png"), &taken, &policy);
    assert!(codes(&dark).contains(&"too_dark"));
}

#[test]
fn no_document_in_plain_scenes() {
    for name in [
        "images/coffee.png",
        "images/chelsea.png",
        "images/city.jpg",
        "images/astronaut.png",
    ] {
        let doc = find_document(&load(name));
        assert!(doc.is_none(), "{name}: {doc:?}");
    }
}
