use invigil_vision::{FaceDetector, ModelKind};
fn main() {
    let dir = std::path::Path::new("tests/fixtures/images");
    let mut front = FaceDetector::new(ModelKind::Front128).unwrap();
    let mut back = FaceDetector::new(ModelKind::Back256).unwrap();
    front.set_min_score(0.3);
    back.set_min_score(0.3);
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().map_or(false, |e| e == "png" || e == "jpg"))
        .collect();
    names.sort();
    for p in names {
        let img = image::open(&p).unwrap().to_rgb8();
        let f: Vec<String> = front
            .detect_rgb(img.as_raw(), img.width(), img.height())
            .unwrap()
            .iter()
            .map(|f| format!("{:.2}@{:.0}", f.score, f.bbox[2]))
            .collect();
        let b: Vec<String> = back
            .detect_rgb(img.as_raw(), img.width(), img.height())
            .unwrap()
            .iter()
            .map(|f| format!("{:.2}@{:.0}", f.score, f.bbox[2]))
            .collect();
        println!(
            "{:28} front {:?}\n{:28} back  {:?}",
            p.file_name().unwrap().to_string_lossy(),
            f,
            "",
            b
        );
    }
}
