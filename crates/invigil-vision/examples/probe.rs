use tract_onnx::prelude::*;
fn main() -> TractResult<()> {
    let path = std::env::args().nth(1).unwrap();
    let m = tract_onnx::onnx().model_for_path(&path)?;
    println!("inputs {:?}", m.input_outlets()?);
    for (i, n) in m.nodes().iter().enumerate().filter(|(_, n)| n.name.contains("Pad")) {
        println!("{i} {} {:?} inputs {:?}", n.name, n.op, n.inputs);
        for inp in &n.inputs { println!("   {:?}", m.outlet_fact(*inp)?); }
    }
    let t = m.clone().into_typed();
    println!("into_typed: {:?}", t.as_ref().err());
    Ok(())
}
