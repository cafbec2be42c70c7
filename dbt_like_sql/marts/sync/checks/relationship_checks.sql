-- One row per relationship that cannot be followed (RELATIONSHIP_NOT_FOUND, not blocking: the
-- person is imported, that relationship is not): a student's guardian or a guardian's student
-- (OneRoster agentSourcedIds, Clever student_relationships) that is not a student or guardian of
-- this landing. OneRoster agents of another role (a teacher listed as a student's agent) are
-- left out unreported: the spec allows any user as an agent.
with people as (
    select user_source_id, role, relationships, is_deleted, source_file, source_row
    from intermediate.int_users_unioned
),

unnested as (
    select user_source_id, role, unnest(relationships) as related, source_file, source_row
    from people
    where role in ('student', 'guardian') and not is_deleted
),

listed as (
    select user_source_id, role, related.user_source_id as related_id, source_file, source_row
    from unnested
)

select
    listed.role as record_type,
    case listed.role when 'guardian' then 'student' else 'guardian' end as field,
    listed.related_id as error_value,
    'RELATIONSHIP_NOT_FOUND' as error_code,
    listed.user_source_id as source_id,
    null::bigint as app_id,
    null::varchar as school,
    null::varchar as name,
    'the ' || case listed.role when 'guardian' then 'student' else 'guardian' end
        || ' this ' || listed.role || ' is related to is not in the landing'
        || case when other.is_deleted then ' (it is marked deleted)' else '' end as message,
    listed.source_file,
    listed.source_row,
    false as blocks_import
from listed
left join people as other on other.user_source_id = listed.related_id
where other.user_source_id is null or other.is_deleted
