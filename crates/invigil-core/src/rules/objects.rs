//! Nothing in view the exam does not allow: `object_detected`,
//! `object_cleared`.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Emitter, FrameFacts, Rule, Stage, Staged};
use crate::policy::ms;
use crate::{EventKind, ObjectLabel, Policy, SeenObject};

/// A person box lying this much (its intersection with the other over its
/// own area) inside a box that holds a face is part of that person: the
/// detector also boxes an arm or the torso of the candidate on its own.
const SAME_PERSON_INSIDE: f32 = 0.5;

/// One kind of object, watched with hysteresis.
#[derive(Default)]
struct Track {
    staged: Staged,
    best: Option<SeenObject>,
}

/// Objects the exam does not allow (`object_labels`, less what the aids
/// allow), each label its own episode. The detector runs every few
/// seconds; its answer stands until the next run (at most
/// `2 * object_interval_s + 1 s`).
///
/// A `person` counts only when it is someone other than the candidate
/// whose face is not visible (turned away, at the edge of the frame): a
/// person box with no face in it and not lying mostly inside (or around)
/// a box that holds one, beside a face or another such box. A
/// second face is the multiple-faces rule's.
#[derive(Default)]
pub struct Objects {
    tracks: BTreeMap<ObjectLabel, Track>,
    seen: Option<(u64, Vec<SeenObject>)>,
}

impl Rule for Objects {
    fn name(&self) -> &'static str {
        "objects"
    }

    fn rests_on_break(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        if let Some(objects) = &frame.obs.objects {
            self.seen = Some((frame.t_ms, objects.clone()));
        }
        let stale_ms = 2 * ms(policy.object_interval_s) + 1000;
        let current: Vec<SeenObject> = match &self.seen {
            Some((at, objects))
                if !frame.featureless && frame.t_ms.saturating_sub(*at) <= stale_ms =>
            {
                flagged(objects, frame, policy)
            }
            _ => Vec::new(),
        };
        let flag_at = [ms(policy.object_flag_s)];
        let (debounce, confirm) = (ms(policy.debounce_s), ms(policy.clear_confirm_s));
        for label in ObjectLabel::ALL {
            let best = current
                .iter()
                .filter(|o| o.label == label)
                .max_by(|a, b| a.score.total_cmp(&b.score));
            let track = self.tracks.entry(label).or_default();
            match track
                .staged
                .step(frame.t_ms, best.is_some(), &flag_at, debounce, confirm)
            {
                Stage::Active { elapsed_ms, newly } => {
                    if let Some(b) = best {
                        if track.best.as_ref().is_none_or(|t| b.score > t.score) {
                            track.best = Some(b.clone());
                        }
                    }
                    if let (false, Some(b)) = (newly.is_empty(), &track.best) {
                        out.emit(
                            EventKind::ObjectDetected,
                            json!({
                                "label": label.as_str(),
                                "score": round3(b.score),
                                "box": b.bbox.map(|v| v.round()),
                                "seen_ms": elapsed_ms,
                            }),
                        );
                    }
                }
                Stage::Ended {
                    duration_ms,
                    reached,
                    ..
                } => {
                    if reached > 0 {
                        out.emit(
                            EventKind::ObjectCleared,
                            json!({ "label": label.as_str(), "duration_ms": duration_ms }),
                        );
                    }
                    track.best = None;
                }
                Stage::Quiet => {}
            }
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(
            self.tracks.values().any(|t| t.staged.reached() >= 1),
            "object_detected",
        )
    }
}

/// The objects on this frame that the policy flags.
fn flagged(objects: &[SeenObject], frame: &FrameFacts<'_>, policy: &Policy) -> Vec<SeenObject> {
    let min = policy.object_min_score as f32;
    let faces: Vec<[f32; 2]> = frame
        .obs
        .faces
        .iter()
        .filter(|f| f64::from(f.score) >= policy.min_face_score)
        .map(|f| f.center())
        .collect();
    let confident = |o: &&SeenObject| o.score >= min && policy.flags_object(o.label);
    let people: Vec<&SeenObject> = objects
        .iter()
        .filter(|o| o.label == ObjectLabel::Person && o.score >= min)
        .collect();
    let with_face: Vec<&SeenObject> = people
        .iter()
        .copied()
        .filter(|p| faces.iter().any(|c| p.contains(*c)))
        .collect();
    let faceless: Vec<&SeenObject> = people
        .iter()
        .copied()
        .filter(|p| {
            !faces.iter().any(|c| p.contains(*c))
                && with_face.iter().all(|w| inside(p, w) < SAME_PERSON_INSIDE)
        })
        .collect();
    // Someone else: a faceless person beside a visible face, or two
    // faceless people (the candidate may be one of them, looking down).
    let someone_else = (!faces.is_empty() && !faceless.is_empty()) || faceless.len() >= 2;
    objects
        .iter()
        .filter(confident)
        .filter(|o| {
            o.label != ObjectLabel::Person
                || (someone_else && faceless.iter().any(|p| std::ptr::eq(*p, *o)))
        })
        .cloned()
        .collect()
}

/// How much of `a` lies inside `b` (0-1; its intersection over its area),
/// or of `b` inside `a` when `b` is the smaller: two boxes of one person
/// overlap mostly, whichever is the bigger.
fn inside(a: &SeenObject, b: &SeenObject) -> f32 {
    let [ax, ay, aw, ah] = a.bbox;
    let [bx, by, bw, bh] = b.bbox;
    let ix = ((ax + aw).min(bx + bw) - ax.max(bx)).max(0.0);
    let iy = ((ay + ah).min(by + bh) - ay.max(by)).max(0.0);
    let smaller = (aw * ah).min(bw * bh);
    if smaller > 0.0 {
        ix * iy / smaller
    } else {
        0.0
    }
}

fn round3(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}
