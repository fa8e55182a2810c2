//! TypeScript of the protocol for the console and the app (ts-rs).

use serde_json::Value;
use ts_rs::TS;

use super::*;
use crate::Event;

/// TypeScript for the console (`console/src/bindings.ts`): every protocol
/// type, the event types, and the proctors' labels of the event kinds.
#[cfg(feature = "ts")]
pub fn typescript() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        crate::Severity::decl(&cfg),
        crate::EventKind::decl(&cfg),
        Event::decl(&cfg),
        CandidateToken::decl(&cfg),
        MediaKind::decl(&cfg),
        ErrorBody::decl(&cfg),
        ErrorInfo::decl(&cfg),
        ServerInfo::decl(&cfg),
        Login::decl(&cfg),
        SignedIn::decl(&cfg),
        Me::decl(&cfg),
        CreateSession::decl(&cfg),
        Created::decl(&cfg),
        SessionState::decl(&cfg),
        SessionSummary::decl(&cfg),
        DeliveryStatus::decl(&cfg),
        SessionStatus::decl(&cfg),
        SessionList::decl(&cfg),
        EndSession::decl(&cfg),
        EventBatch::decl(&cfg),
        BatchReceipt::decl(&cfg),
        BatchReply::decl(&cfg),
        ServerKey::decl(&cfg),
        MediaStored::decl(&cfg),
        MediaItem::decl(&cfg),
        DecisionAction::decl(&cfg),
        NewDecision::decl(&cfg),
        Decision::decl(&cfg),
        Decided::decl(&cfg),
        StoredEvent::decl(&cfg),
        TimelineNote::decl(&cfg),
        SpotCheck::decl(&cfg),
        Timeline::decl(&cfg),
        Alert::decl(&cfg),
        Lagged::decl(&cfg),
        LaunchCode::decl(&cfg),
        CheckinRequirements::decl(&cfg),
        BreakClock::decl(&cfg),
        Breaks::decl(&cfg),
        Aids::decl(&cfg),
        NewExam::decl(&cfg),
        Exam::decl(&cfg),
        ExamList::decl(&cfg),
        NewEnrolment::decl(&cfg),
        Enrol::decl(&cfg),
        RosterUpload::decl(&cfg),
        Enrolment::decl(&cfg),
        EnrolmentList::decl(&cfg),
        IssuedCode::decl(&cfg),
        Issued::decl(&cfg),
        Reissue::decl(&cfg),
        Accommodations::decl(&cfg),
        ExamBrief::decl(&cfg),
        NoteAlert::decl(&cfg),
        ResponsesUpload::decl(&cfg),
        ForensicFlag::decl(&cfg),
        ForensicsReport::decl(&cfg),
        NewAchievement::decl(&cfg),
        Achievement::decl(&cfg),
        Passes::decl(&cfg),
        PassesCsv::decl(&cfg),
        BadgeStatus::decl(&cfg),
        Badge::decl(&cfg),
        PassesRecorded::decl(&cfg),
        BadgeList::decl(&cfg),
        NewBadgeStatus::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `invigil_core::protocol::typescript` (ts-rs).\n// Do not edit: run `INVIGIL_UPDATE_BINDINGS=1 cargo test -p invigil-server --test bindings`.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str(&event_texts_typescript(
        "EVENT_LABELS",
        "How proctors read each event kind.",
        |k| Some(k.label()),
    ));
    out
}

/// A TypeScript constant mapping event kinds to words (`label` or
/// `to_candidate`), for the console's and the app's bindings.
#[cfg(feature = "ts")]
pub fn event_texts_typescript(
    name: &str,
    doc: &str,
    text: impl Fn(crate::EventKind) -> Option<&'static str>,
) -> String {
    let mut out =
        format!("/** {doc} */\nexport const {name}: Partial<Record<EventKind, string>> = {{\n");
    for kind in crate::EventKind::ALL {
        if let Some(t) = text(*kind) {
            out.push_str(&format!(
                "  {}: {},\n",
                kind.as_str(),
                Value::String(t.to_owned())
            ));
        }
    }
    out.push_str("};\n");
    out
}
