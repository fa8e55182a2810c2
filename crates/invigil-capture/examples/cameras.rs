//! Lists cameras and reads a few frames from the first one: a check for real
//! hardware. `cargo run -p invigil-capture --example cameras`
#[cfg(feature = "camera")]
fn main() {
    use invigil_capture::{list_cameras, CameraSource, FrameSource};
    let cameras = match list_cameras() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if cameras.is_empty() {
        eprintln!("no cameras found");
        std::process::exit(1);
    }
    for c in &cameras {
        println!("camera:{}  {}  {}", c.index, c.name, c.description);
    }
    let mut cam = match CameraSource::open(0, "camera:0") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for _ in 0..30 {
        match cam.next_frame() {
            Ok(Some(f)) => println!("t={} ms {}x{}", f.t_ms, f.width, f.height),
            Ok(None) => break,
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        }
    }
}

#[cfg(not(feature = "camera"))]
fn main() {
    eprintln!("built without the `camera` feature");
}
