"""The CSV kit's messages (SPEC §5.6): file format, headings, rows and downloads."""

from app.text.messages import register_messages

MESSAGES: dict[str, tuple[str, str]] = {
    "csv_media_type": (
        "CSVファイルは Content-Type: text/csv の本文として、または multipart/form-data の file 項目として送信してください。",
        "Send the CSV file as a text/csv body, or as the file field of multipart/form-data.",
    ),
    "unsupported_charset": (
        "文字コード {charset} には対応していません。UTF-8 または Shift_JIS を指定してください。",
        "The charset {charset} is not supported: use UTF-8 or Shift_JIS.",
    ),
    "csv_encoding": (
        "ファイルの文字コードを読み取れません（{line}行目）。UTF-8 または Shift_JIS（CP932）で保存してください。",
        "The file is neither UTF-8 nor Shift_JIS (CP932) (line {line}). Save it in one of them.",
    ),
    "csv_empty": (
        "CSVファイルが空です。1行目に見出し行が必要です。",
        "The CSV file is empty: its first line must be the heading row.",
    ),
    "csv_malformed": (
        'CSVの形式が正しくありません（{line}行目）。引用符（"）の対応を確認してください。',
        'The CSV is malformed at line {line}: check the quotes (").',
    ),
    "csv_too_many_rows": (
        "CSVの行数が多すぎます（上限 {limit} 行）。ファイルを分割してください。",
        "The CSV has too many rows (limit {limit}): split the file.",
    ),
    "csv_invalid": (
        "CSVの内容に誤りがあります（{count}件）。各行のエラーを確認してください。何も変更されていません。",
        "The CSV has {count} errors; see the errors of each row. Nothing was changed.",
    ),
    "csv_unknown_column": (
        "列「{column}」は使用できません。使用できる列: {allowed_ja}",
        'Unknown column "{column}". Columns: {allowed_en}',
    ),
    "csv_duplicate_column": (
        "列「{column}」が2回以上あります。",
        'The column "{column}" is given more than once.',
    ),
    "csv_missing_column": (
        "列「{label}」が必要です。",
        "The column {name} is required.",
    ),
    "csv_cell_count": (
        "この行の項目数（{count}）が見出し行の列数（{expected}）と一致しません。",
        "This row has {count} cells; the heading row has {expected}.",
    ),
    "csv_duplicate_row": (
        "同じ値の行がファイルの{first}行目にもあります。",
        "The same value is already given at line {first} of the file.",
    ),
    "csv_conflict": (
        "アップロード中に、同じデータが別の操作で登録・変更されました。何も変更されていません。内容を確認して、もう一度アップロードしてください。",
        "The same data was added or changed by someone else during the upload; nothing was changed. Check it and upload again.",
    ),
    "not_shift_jis": (
        "Shift_JIS（CP932）で表せない文字が含まれています。該当する文字は invalid_characters に示します。",
        "Contains characters that Shift_JIS (CP932) cannot represent; see invalid_characters.",
    ),
    "download_not_shift_jis": (
        "Shift_JIS（CP932）で表せない文字を含むデータが{count}件あります。encoding=utf-8 でダウンロードするか、データを修正してください。",
        "{count} values cannot be written in Shift_JIS (CP932): download with encoding=utf-8, or correct them.",
    ),
    "csv_too_many_columns": (
        "見出し行の列が多すぎます（{count}列、上限 {limit} 列）。見出し行を確認してください。",
        "The heading row has too many columns ({count}; at most {limit}). Check the heading row.",
    ),
    "csv_unnamed_column": (
        "見出しが空の列（{position}列目）に値があります。見出しを付けるか、値を消してください。",
        "Column {position} has no heading but holds a value: give it a heading or empty it.",
    ),
}
register_messages(MESSAGES)
