"""Messages of application templates (申請テンプレート, SPEC §2.8)."""

from app.text.messages import register_labels, register_messages

register_messages(
    {
        "template_name_taken": (
            "テンプレート名「{name}」は既に使用されています。別の名前を指定してください。",
            "The template name {name} is already used in this organization; choose another.",
        ),
        "field_not_applicable": (
            "継続検査のテンプレートにはこの項目を指定できません（所有者・使用者・使用の本拠の位置は自動車検査証の記録から取られます）。",
            "This field does not apply to continuous_inspection (owner, user and base location come "
            "from the vehicle's record); leave it out.",
        ),
        "user_given_with_same_as_owner": (
            "user_same_as_owner が true のときは使用者（user）を指定しないでください（null にしてください）。",
            "user must be null when user_same_as_owner is true.",
        ),
        "unknown_agent_designation": (
            "指定された依頼先代理人は存在しません。",
            "No designated agent of this organization has this id.",
        ),
        "designation_not_applicable": (
            "この依頼先代理人はこのテンプレートに使えません。手続き（{procedure}）を扱い、拠点が全拠点かテンプレートと同じ拠点の依頼先代理人を指定してください。",
            "This designated agent does not fit the template: choose one whose procedures include "
            "{procedure} and whose location is all locations or the template's.",
        ),
    }
)

register_labels({"private": ("自家用", "private"), "business": ("事業用", "business")})
