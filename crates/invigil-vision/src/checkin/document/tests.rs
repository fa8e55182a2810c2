use super::*;

fn card_frame(x: usize, y: usize, w: usize, h: usize) -> Frame {
    let mut f = Frame::solid(0, 640, 480, [60, 70, 80]);
    for yy in y..y + h {
        for xx in x..x + w {
            let i = (yy * 640 + xx) * 3;
            f.rgb[i..i + 3].copy_from_slice(&[225, 228, 232]);
        }
    }
    f
}

#[test]
fn finds_an_upright_card() {
    let q = find_document(&card_frame(150, 120, 320, 202)).expect("a card");
    let b = q.bounds();
    assert!(
        (b[0] - 150.0).abs() < 6.0 && (b[1] - 120.0).abs() < 6.0,
        "{q:?}"
    );
    assert!(
        (b[2] - 320.0).abs() < 10.0 && (b[3] - 202.0).abs() < 10.0,
        "{q:?}"
    );
    assert!((q.aspect - 1.58).abs() < 0.08, "{q:?}");
    assert!((q.area - 320.0 * 202.0 / (640.0 * 480.0)).abs() < 0.02);
    assert!(q.contains([300.0, 200.0]) && !q.contains([100.0, 100.0]));
}

#[test]
fn a_square_or_nothing_is_not_a_card() {
    assert!(find_document(&card_frame(200, 100, 250, 250)).is_none());
    assert!(find_document(&Frame::solid(0, 640, 480, [90, 90, 90])).is_none());
}

#[test]
fn blur_lowers_sharpness() {
    let f = card_frame(150, 120, 320, 202);
    let mut blurred = f.clone();
    for _ in 0..4 {
        let src = blurred.rgb.clone();
        for y in 1..479 {
            for x in 1..639 {
                for c in 0..3 {
                    let at = |xx: usize, yy: usize| u32::from(src[(yy * 640 + xx) * 3 + c]);
                    let s = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) + at(x, y);
                    blurred.rgb[(y * 640 + x) * 3 + c] = (s / 5) as u8;
                }
            }
        }
    }
    let region = [140.0, 110.0, 340.0, 222.0];
    assert!(sharpness(&f, region) > 4.0 * sharpness(&blurred, region));
}
