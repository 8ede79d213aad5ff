//! Schemas the derive macros cannot infer, for `#[param(schema_with = …)]` and
//! `#[schema(schema_with = …)]`: the closed sets of words a parameter takes, read from the domain's
//! own lists so that the document names exactly the values the server accepts, and addresses.

use rampart_core::changes::ChangeKind;
use rampart_core::executions::ExecutionStatus;
use rampart_core::findings::{FindingStatus, Severity};
use rampart_core::identity::{AuditAction, Role};
use rampart_core::targets::TargetKind;
use rampart_core::watch::decisions::{DecisionKind, DecisionOrigin, DecisionScope};
use rampart_core::watch::{AlertStatus, NodeKind, NodeStatus};
use utoipa::openapi::schema::{
    Array, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, Schema};

/// A string that is one of `values`.
fn words(values: impl IntoIterator<Item = &'static str>) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).build()
}

pub(crate) fn target_kinds() -> Object {
    words(TargetKind::ALL.map(TargetKind::as_str))
}

pub(crate) fn node_kinds() -> Object {
    words(NodeKind::ALL.iter().map(|kind| kind.as_str()))
}

pub(crate) fn node_statuses() -> Object {
    words(NodeStatus::ALL.iter().map(|status| status.as_str()))
}

pub(crate) fn alert_statuses() -> Object {
    words(AlertStatus::ALL.iter().map(|status| status.as_str()))
}

pub(crate) fn execution_statuses() -> Object {
    words(ExecutionStatus::ALL.map(ExecutionStatus::as_str))
}

pub(crate) fn audit_actions() -> Object {
    words(AuditAction::ALL.iter().map(|action| action.as_str()))
}

pub(crate) fn severities() -> Object {
    words(Severity::ALL.map(Severity::as_str))
}

pub(crate) fn finding_statuses() -> Object {
    words(FindingStatus::ALL.map(FindingStatus::as_str))
}

pub(crate) fn asset_kinds() -> Object {
    words(rampart_core::assets::AssetKind::ALL.map(rampart_core::assets::AssetKind::as_str))
}

pub(crate) fn change_kinds() -> Object {
    words(ChangeKind::ALL.map(ChangeKind::as_str))
}

/// Why a finding changed: at most `findings::NOTE_MAX` characters, no control character but line
/// breaks and tabs.
pub(crate) fn finding_note() -> Object {
    let max = rampart_core::findings::NOTE_MAX;
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(format!("^[^{CONTROL_IN_TEXT}]{{0,{max}}}$"))).build()
}

pub(crate) fn report_formats() -> Object {
    words(rampart_report::Format::ALL.map(rampart_report::Format::as_str))
}

pub(crate) fn roles() -> Object {
    words(Role::ALL.map(Role::as_str))
}

/// An IPv4 or IPv6 address.
pub(crate) fn ip_address() -> Schema {
    let format = |known| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(known)));
    Schema::OneOf(OneOfBuilder::new().item(format(KnownFormat::Ipv4)).item(format(KnownFormat::Ipv6)).build())
}

/// Unicode white space, which the server trims from both ends of names and tags.
const SPACE: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters, which no name or tag may hold once trimmed.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";

/// Text of 1 to `max` characters once trimmed, holding no control character nor any of `banned`.
fn trimmed(max: usize, banned: &str) -> String {
    format!(
        "^[{SPACE}]*[^{SPACE}{CONTROL}{banned}](?:[^{CONTROL}{banned}]{{0,{middle}}}[^{SPACE}{CONTROL}{banned}])?[{SPACE}]*$",
        middle = max.saturating_sub(2)
    )
}

/// A name of 1 to `max` characters that is not blank and holds no control character (it is
/// trimmed when stored).
fn printable(max: usize) -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(trimmed(max, ""))).build()
}

/// Control characters but line breaks and tabs: what free text may not hold.
const CONTROL_IN_TEXT: &str = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f";

/// Free text a person wrote (a note): at most `NOTE_MAX` characters, no control character but
/// line breaks and tabs (`check_free_text`).
pub(crate) fn note() -> Object {
    let max = rampart_core::targets::NOTE_MAX;
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(format!("^[^{CONTROL_IN_TEXT}]{{0,{max}}}$"))).build()
}

pub(crate) fn note_or_null() -> Schema {
    or_null(note())
}

/// The text of a list filter: at most `FILTER_TEXT_MAX` characters, no control character.
pub(crate) fn filter_text() -> Object {
    let max = crate::pagination::FILTER_TEXT_MAX;
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(format!("^[^{CONTROL}]{{0,{max}}}$"))).build()
}

/// `schema`, or `null` (an optional field of a patch).
fn or_null(schema: impl Into<RefOr<Schema>>) -> Schema {
    Schema::OneOf(OneOfBuilder::new().item(schema).item(Object::with_type(Type::Null)).build())
}

pub(crate) fn key_name() -> Object {
    printable(rampart_core::identity::KEY_NAME_MAX)
}

pub(crate) fn node_name() -> Object {
    printable(rampart_core::watch::nodes::NAME_MAX)
}

/// A node's id in the replaced system: `node-` and 16 lowercase hex digits.
pub(crate) fn legacy_node_id_or_null() -> Schema {
    or_null(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^node-[0-9a-f]{16}$")))
}

/// A node key of the replaced system: `nk_` and URL-safe base64.
pub(crate) fn imported_node_key_or_null() -> Schema {
    use rampart_core::watch::nodes::{IMPORTED_KEY_MAX, IMPORTED_KEY_MIN};
    let pattern = format!("^nk_[A-Za-z0-9_-]{{{IMPORTED_KEY_MIN},{IMPORTED_KEY_MAX}}}$");
    or_null(ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)))
}

pub(crate) fn node_name_or_null() -> Schema {
    or_null(node_name())
}

pub(crate) fn node_statuses_or_null() -> Schema {
    or_null(node_statuses())
}

/// A person's name: at most `FULL_NAME_MAX` characters once trimmed, no control character.
pub(crate) fn full_name_or_null() -> Schema {
    // The most `parse_full_name` keeps (rampart-core does not export its constant).
    const FULL_NAME_MAX: usize = 200;
    let before_last = FULL_NAME_MAX - 1;
    let pattern = format!("^[{SPACE}]*(?:[^{CONTROL}]{{0,{before_last}}}[^{SPACE}{CONTROL}])?[{SPACE}]*$");
    or_null(ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)))
}

/// A password: its length (that it is not a common one the document cannot say).
pub(crate) fn password() -> Object {
    use rampart_core::identity::{PASSWORD_MAX, PASSWORD_MIN};
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(PASSWORD_MIN)).max_length(Some(PASSWORD_MAX)).build()
}

pub(crate) fn password_or_null() -> Schema {
    or_null(password())
}

/// A login name, as `Username::parse` reads it (lowercased and trimmed first).
pub(crate) fn username() -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$")).build()
}

/// A target's tags: up to `TAGS_MAX`, each 1 to `TAG_MAX` characters once trimmed, without
/// commas or control characters.
pub(crate) fn tags() -> Array {
    use rampart_core::targets::{TAG_MAX, TAGS_MAX};
    let tag = ObjectBuilder::new().schema_type(Type::String).pattern(Some(trimmed(TAG_MAX, ",")));
    ArrayBuilder::new().items(tag).max_items(Some(TAGS_MAX)).build()
}

pub(crate) fn tags_or_null() -> Schema {
    or_null(tags())
}

pub(crate) fn decision_kinds() -> Object {
    words(DecisionKind::ALL.map(DecisionKind::as_str))
}

pub(crate) fn decision_kinds_or_null() -> Schema {
    or_null(decision_kinds())
}

pub(crate) fn export_formats() -> Object {
    words(rampart_core::watch::export::ExportFormat::ALL.map(rampart_core::watch::export::ExportFormat::as_str))
}

pub(crate) fn decision_scopes() -> Object {
    words(DecisionScope::ALL.map(DecisionScope::as_str))
}

pub(crate) fn decision_origins() -> Object {
    words(DecisionOrigin::ALL.map(DecisionOrigin::as_str))
}

/// An address or a network, as written: the grammar of addresses is checked by the server.
pub(crate) fn decision_value() -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[0-9A-Fa-f:.]{2,45}(/[0-9]{1,3})?$")).build()
}

/// A duration as Go writes them, and days: `4h`, `1h30m`, `7d`.
pub(crate) fn duration_or_null() -> Schema {
    or_null(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^([0-9]{1,6}[dhms]){1,4}$")))
}

pub(crate) fn scenario_or_null() -> Schema {
    or_null(printable(rampart_core::watch::decisions::SCENARIO_MAX))
}

/// A decision's reason or an allowlist entry's note: no control character at all.
pub(crate) fn decision_note_or_null() -> Schema {
    let max = rampart_core::watch::decisions::NOTE_MAX;
    or_null(ObjectBuilder::new().schema_type(Type::String).pattern(Some(format!("^[^{CONTROL}]{{0,{max}}}$"))))
}

pub(crate) fn bouncer_name() -> Object {
    let max = rampart_core::watch::decisions::BOUNCER_NAME_MAX - 2;
    let pattern = format!(r"^[A-Za-z0-9._@:-](?:[A-Za-z0-9 ._@:-]{{0,{max}}}[A-Za-z0-9._@:-])?$");
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).build()
}

pub(crate) fn policy_name() -> Object {
    printable(rampart_core::watch::policies::NAME_MAX)
}

pub(crate) fn attack_type_or_null() -> Schema {
    or_null(printable(rampart_core::watch::policies::ATTACK_TYPE_MAX))
}

/// A policy's escalating durations: 1 to 10, each as Go writes durations, and days.
pub(crate) fn durations_or_null() -> Schema {
    let duration = ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^([0-9]{1,6}[dhms]){1,4}$"));
    let max = rampart_core::watch::policies::DURATIONS_MAX;
    or_null(ArrayBuilder::new().items(duration).min_items(Some(1)).max_items(Some(max)))
}
