//! The head pose of every face in photographs, as the looking-away rule
//! sees it: `cargo run --release -p invigil-vision --example poses -- A.jpg B.png ...`
//! prints one line per face: file, face box, detector score, yaw, pitch,
//! roll (degrees; yaw positive to the subject's left, pitch positive up).
//! docs/performance.md ("Conduct") measures with it.

use invigil_core::Frame;
use invigil_vision::{FaceDetector, FaceLandmarker, ModelKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut detector = FaceDetector::new(ModelKind::Back256)?;
    let landmarker = FaceLandmarker::new()?;
    println!("file\tx\ty\tw\th\tscore\tyaw\tpitch\troll");
    for path in std::env::args().skip(1) {
        let img = match image::open(&path) {
            Ok(i) => i.to_rgb8(),
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let frame = Frame::new(0, img.width(), img.height(), img.into_raw())?;
        for face in detector.detect(&frame)? {
            let [x, y, w, h] = face.bbox.map(|v| v.round());
            match landmarker.pose(&frame, &face)? {
                Some(p) => println!(
                    "{path}\t{x}\t{y}\t{w}\t{h}\t{:.2}\t{:.1}\t{:.1}\t{:.1}",
                    face.score, p.yaw, p.pitch, p.roll
                ),
                None => println!("{path}\t{x}\t{y}\t{w}\t{h}\t{:.2}\t-\t-\t-", face.score),
            }
        }
    }
    Ok(())
}
