"""Messages of agents and designated agents (SPEC §2.7)."""

from app.text.messages import register_messages

register_messages(
    {
        "procedure_not_allowed": (
            "この代理人には依頼できない手続が含まれています（{procedures}）。依頼できる手続: {allowed}",
            "These procedures cannot be filed through this agent: {procedures}. It files: {allowed}.",
        ),
        "agent_already_registered": (
            "登録番号{registration_number}の代理人（{kind}）は既に登録されています。",
            "An agent of kind {kind} with registration number {registration_number} is already registered.",
        ),
        "agent_in_use": (
            "この代理人は{count}件の依頼先代理人に指定されているため削除できません。利用停止にしてください。",
            "This agent is designated {count} times; it cannot be deleted. Suspend it instead.",
        ),
        "agent_procedures_in_use": (
            "依頼先代理人に指定されている手続（{procedures}）は外せません。先に依頼先代理人を変更してください。",
            "Designations use the procedures {procedures} of this agent; change them first.",
        ),
        "designation_in_use": (
            "この依頼先代理人は{count}件の申請テンプレートで使われているため、削除できず、それらに合わなくなる変更もできません。先にテンプレートを変更してください。",
            "{count} application templates use this designation: it cannot be deleted, nor changed so that they no longer fit it. Change them first.",
        ),
        "agent_suspended": (
            "この代理人は利用停止中のため指定できません。",
            "This agent is suspended and cannot be designated.",
        ),
        "agent_already_designated": (
            "この代理人は同じ拠点（または全拠点）に既に指定されています（依頼先代理人ID {designation_id}）。",
            "This agent is already designated for the same location (or all locations): designation {designation_id}.",
        ),
        "default_already_set": (
            "同じ拠点（または全拠点）の手続 {procedure} の既定の依頼先代理人は既に設定されています（依頼先代理人ID {designation_id}）。",
            "The default of the same location (or all locations) for {procedure} is already designation {designation_id}.",
        ),
        "no_agent_designated": (
            "この拠点と手続に既定の依頼先代理人は設定されていません。",
            "No default agent is designated for this location and procedure.",
        ),
        "unknown_agent": (
            "指定された代理人は存在しません。",
            "No agent of the directory has this id.",
        ),
        "registration_number_required": (
            "行政書士・行政書士法人の登録番号は必須です。",
            "A registration number is required for 行政書士 and 行政書士法人.",
        ),
        "invalid_prefecture": (
            "都道府県コードは01〜47の半角数字2桁で指定してください。",
            "The prefecture is a JIS X 0401 code, 01 to 47.",
        ),
        "invalid_phone_number": (
            "電話番号は半角数字とハイフンで指定してください。",
            "A phone number has half-width digits and hyphens only.",
        ),
    }
)
