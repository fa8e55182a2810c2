use super::*;

#[test]
fn display_matrices_give_quarter_turns() {
    let one = 0x10000;
    // The display matrix [a b u; c d v; x y w] by its (a, b, c, d).
    let turns = |_a: i32, _b: i32, c: i32, d: i32| quarter_turns(c, d);
    assert_eq!(turns(one, 0, 0, one), 0);
    assert_eq!(turns(0, one, -one, 0), 1);
    assert_eq!(turns(-one, 0, 0, -one), 2);
    assert_eq!(turns(0, -one, one, 0), 3);
    assert_eq!(turns(0, 0, 0, 0), 0);
    // Mirrored left-right: upright as it is, not turned over.
    assert_eq!(turns(-one, 0, 0, one), 0);
    // Mirrored and turned a quarter clockwise.
    assert_eq!(turns(0, -one, -one, 0), 1);
}

#[test]
fn rotation_moves_pixels_clockwise() {
    // 2x1: red, green. A quarter clockwise: 1x2, red on top.
    let f = Frame::new(0, 2, 1, vec![255, 0, 0, 0, 255, 0]).unwrap();
    let r = rotate_quarters(f.clone(), 1);
    assert_eq!((r.width, r.height), (1, 2));
    assert_eq!(r.rgb, vec![255, 0, 0, 0, 255, 0]);
    let r = rotate_quarters(f.clone(), 3);
    assert_eq!(r.rgb, vec![0, 255, 0, 255, 0, 0]);
    let r = rotate_quarters(f, 2);
    assert_eq!((r.width, r.height), (2, 1));
    assert_eq!(r.rgb, vec![0, 255, 0, 255, 0, 0]);
}
