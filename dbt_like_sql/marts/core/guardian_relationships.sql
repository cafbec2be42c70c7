-- One row per guardian and student of this landing who are related, from either side: a
-- OneRoster student's agentSourcedIds (its guardians) or a guardian's (its students), a Clever
-- contact's student_relationships. A guardian shared by siblings is one guardian with a row per
-- sibling. relationship is the source's word (Clever: Parent, Aunt, ...; OneRoster gives none:
-- NULL). A person marked deleted has no relationships; a related id that is no student or
-- guardian of this landing is sync.relationship_checks' RELATIONSHIP_NOT_FOUND.
with people as (
    select user_source_id, role, relationships
    from intermediate.int_users_unioned
    where role in ('student', 'guardian') and not is_deleted
),

listed as (
    select
        user_source_id as listed_by,
        role as listed_by_role,
        unnest(relationships) as related
    from people
),

pairs as (
    select
        case when listed.listed_by_role = 'guardian' then listed.listed_by
            else listed.related.user_source_id end as guardian_source_id,
        case when listed.listed_by_role = 'guardian' then listed.related.user_source_id
            else listed.listed_by end as student_source_id,
        listed.related.relationship
    from listed
    join people as other
        on other.user_source_id = listed.related.user_source_id
        and other.role = case listed.listed_by_role when 'guardian' then 'student'
            else 'guardian' end
)

select
    guardian_source_id,
    student_source_id,
    -- both sides may list the pair; at most the guardian's side names the relationship
    min(relationship) as relationship
from pairs
group by guardian_source_id, student_source_id
