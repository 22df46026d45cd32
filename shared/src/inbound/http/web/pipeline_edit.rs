//! A pipeline's editor: rename it, add a stage, rename a stage or change its
//! win probability, move a stage up or down, delete a stage (its deals moved
//! to a stage the pipeline keeps, or the deletion refused while it has
//! deals). Every change is one small form posting to the same route with an
//! `op`, each carrying the pipeline's version so a change made meanwhile is
//! refused rather than overwritten. The same service as
//! `PATCH /pipelines/{id}`, with its rules and its role check.

use crate::domain::ids::PipelineId;
use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;

use super::contacts::NoticeQuery;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::pipelines::{self, PipelineChange, PipelineRecord, StageInput};

#[derive(Template)]
#[template(path = "staff/pipeline_edit.html")]
struct EditPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    pipeline: PipelineRecord,
    errors: FieldErrors,
    /// The refused form's values, shown again in its fields.
    form: FormData,
}

impl EditPage {
    /// A field's value: what was just refused, else what is stored.
    fn value(&self, field: &str, stored: &str) -> String {
        if self.errors.get(field).is_some() {
            self.form.text(field)
        } else {
            stored.to_string()
        }
    }
}

async fn page(
    state: &AppState,
    staff: Staff,
    id: &PipelineId,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
) -> Result<EditPage, PageError> {
    let pipeline = pipelines::get_pipeline(state.table.as_ref(), &staff.auth.org_id, id).await?;
    let staff = staff.in_section("pipelines");
    Ok(EditPage {
        title: format!("Edit {}", pipeline.name),
        chrome: Some(staff.chrome),
        notice,
        pipeline,
        errors,
        form,
    })
}

/// `GET /app/pipelines/{id}/edit`.
pub async fn edit_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<PipelineId>,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let page = page(
        &state,
        staff,
        &id,
        notice_text(query.notice.as_deref()),
        FieldErrors::default(),
        FormData::default(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// One form's change to the pipeline, as the API's change body.
enum Edit {
    Change(PipelineChange),
    /// Nothing to do (moving the first stage up).
    Nothing,
}

fn keep(pipeline: &PipelineRecord) -> Vec<StageInput> {
    pipeline
        .stages
        .iter()
        .map(|stage| StageInput {
            id: Some(stage.id.clone()),
            name: stage.name.clone(),
            probability: Some(stage.probability),
        })
        .collect()
}

/// A probability field: blank keeps the default, anything else is handed
/// on for the service to judge (a number it refuses, or a field error here).
fn probability(form: &FormData, field: &str) -> Result<Option<u8>, ApiError> {
    match form.optional(field) {
        None => Ok(None),
        Some(raw) => raw
            .parse::<u8>()
            .map(Some)
            .map_err(|_| ApiError::field(field, "out_of_range", "Use 0 to 100.")),
    }
}

fn stages_change(stages: Vec<StageInput>, move_deals_to: Option<String>) -> Edit {
    Edit::Change(PipelineChange {
        name: None,
        stages: Some(stages),
        move_deals_to,
    })
}

fn edit_from_form(pipeline: &PipelineRecord, form: &FormData) -> Result<Edit, ApiError> {
    let stage_id = form.text("stage_id");
    let position = pipeline.stages.iter().position(|s| s.id == stage_id);
    let unknown = || ApiError::field("stage_id", "unknown_stage", "No such stage in this pipeline.");
    let mut stages = keep(pipeline);
    match form.text("op").as_str() {
        "rename" => Ok(Edit::Change(PipelineChange {
            name: Some(form.text("name")),
            stages: None,
            move_deals_to: None,
        })),
        "add_stage" => {
            stages.push(StageInput {
                id: None,
                name: form.text("new_stage_name"),
                probability: probability(form, "new_stage_probability")?,
            });
            Ok(stages_change(stages, None))
        }
        "save_stage" => {
            let i = position.ok_or_else(unknown)?;
            stages[i].name = form.text(&format!("name-{stage_id}"));
            stages[i].probability = probability(form, &format!("probability-{stage_id}"))?;
            Ok(stages_change(stages, None))
        }
        "up" | "down" => {
            let i = position.ok_or_else(unknown)?;
            let j = if form.text("op") == "up" {
                i.checked_sub(1)
            } else {
                Some(i + 1).filter(|j| *j < stages.len())
            };
            match j {
                Some(j) => {
                    stages.swap(i, j);
                    Ok(stages_change(stages, None))
                }
                None => Ok(Edit::Nothing),
            }
        }
        "delete_stage" => {
            let i = position.ok_or_else(unknown)?;
            stages.remove(i);
            Ok(stages_change(stages, form.optional(&format!("move-{stage_id}"))))
        }
        _ => Err(ApiError::field(
            "op",
            "unknown_action",
            "Choose rename, add_stage, save_stage, up, down or delete_stage.",
        )),
    }
}

/// The API's field of a stage list in the editor's terms: `stages[2].name`
/// is the name field of the third stage of the list that was sent.
fn editor_field(api_field: &str, pipeline: &PipelineRecord, form: &FormData) -> String {
    let Some(rest) = api_field.strip_prefix("stages") else {
        return api_field.to_string();
    };
    let index = rest
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|i| i.parse::<usize>().ok());
    let leaf = rest.rsplit('.').next().unwrap_or_default();
    match form.text("op").as_str() {
        "save_stage" => {
            let id = form.text("stage_id");
            if leaf == "probability" {
                format!("probability-{id}")
            } else {
                format!("name-{id}")
            }
        }
        "delete_stage" => format!("move-{}", form.text("stage_id")),
        _ => match index.and_then(|i| pipeline.stages.get(i)) {
            Some(stage) => format!("name-{}", stage.id),
            None if leaf == "probability" => "new_stage_probability".into(),
            None => "new_stage_name".into(),
        },
    }
}

/// `POST /app/pipelines/{id}/edit`: one of the editor's forms (`op`).
pub async fn save(
    State(state): State<AppState>,
    Path(id): Path<PipelineId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let pipeline = pipelines::get_pipeline(state.table.as_ref(), &staff.auth.org_id, &id).await?;
    let version = form.text("version").parse::<u64>().ok();
    let saved = match edit_from_form(&pipeline, &form) {
        Ok(Edit::Change(change)) => pipelines::update_pipeline(&state, &staff.auth.actor, &id, change, version)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Ok(Edit::Nothing) => Ok(()),
        Err(err) => Err(err),
    };
    match saved {
        Ok(()) => Ok(see_other(&format!("/app/pipelines/{id}/edit?notice=pipeline-saved"))),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api_owned(&err, |field| editor_field(field, &pipeline, &form));
            let page = page(&state, staff, &id, None, errors, form).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(ApiError::Conflict {
            code: "stage_has_deals",
            ..
        }) => {
            let field = format!("move-{}", form.text("stage_id"));
            let errors = FieldErrors::from_api(
                &ApiError::field(
                    &field,
                    "stage_has_deals",
                    "This stage still has deals: choose the stage they move to.",
                ),
                |f| f,
            );
            let page = page(&state, staff, &id, None, errors, form).await?;
            Ok(render(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::pipelines::Stage;

    fn pipeline() -> PipelineRecord {
        let stage = |id: &str, position| Stage {
            id: id.into(),
            name: id.to_uppercase(),
            position,
            probability: 50,
        };
        PipelineRecord {
            id: "p".into(),
            name: "P".into(),
            stages: vec![stage("a", 0), stage("b", 1), stage("c", 2)],
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        }
    }

    fn order(edit: Edit) -> Vec<String> {
        match edit {
            Edit::Change(change) => change
                .stages
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.id.unwrap_or_else(|| s.name.clone()))
                .collect(),
            Edit::Nothing => vec![],
        }
    }

    #[test]
    fn stages_move_one_place_and_not_past_the_ends() {
        let form = |pairs: &str| FormData::parse(pairs.as_bytes());
        assert_eq!(
            order(edit_from_form(&pipeline(), &form("op=up&stage_id=c")).unwrap()),
            ["a", "c", "b"]
        );
        assert_eq!(
            order(edit_from_form(&pipeline(), &form("op=down&stage_id=a")).unwrap()),
            ["b", "a", "c"]
        );
        assert!(matches!(
            edit_from_form(&pipeline(), &form("op=up&stage_id=a")).unwrap(),
            Edit::Nothing
        ));
        assert_eq!(
            order(edit_from_form(&pipeline(), &form("op=delete_stage&stage_id=b")).unwrap()),
            ["a", "c"]
        );
        assert!(edit_from_form(&pipeline(), &form("op=up&stage_id=zz")).is_err());
    }

    #[test]
    fn the_services_stage_fields_land_on_the_editors_fields() {
        let p = pipeline();
        let form = |pairs: &str| FormData::parse(pairs.as_bytes());
        assert_eq!(
            editor_field("stages[3].name", &p, &form("op=add_stage")),
            "new_stage_name"
        );
        assert_eq!(editor_field("stages", &p, &form("op=add_stage")), "new_stage_name");
        assert_eq!(
            editor_field("stages[1].name", &p, &form("op=save_stage&stage_id=b")),
            "name-b"
        );
        assert_eq!(editor_field("name", &p, &form("op=rename")), "name");
    }
}
