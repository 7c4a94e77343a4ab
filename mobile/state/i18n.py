"""Labels in Japanese (default) and English."""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "app_title": ("結び Musubi", "Musubi"),
    "email": ("メールアドレス", "E-mail"),
    "password": ("パスワード", "Password"),
    "login": ("ログイン", "Log in"),
    "logout": ("ログアウト", "Log out"),
    "language": ("English", "日本語"),
    "live": ("接続中", "Live"),
    "connecting": ("接続しています…", "Connecting…"),
    "offline": ("オフライン", "Offline"),
    "new_case": ("新しい事案", "New case"),
    "age": ("推定年齢", "Estimated age"),
    "sex": ("性別", "Sex"),
    "male": ("男性", "Male"),
    "female": ("女性", "Female"),
    "unknown": ("不明", "Unknown"),
    "complaint": ("主訴", "Chief complaint"),
    "jcs": ("JCS", "JCS"),
    "gcs": ("GCS (E/V/M)", "GCS (E/V/M)"),
    "sbp": ("収縮期血圧", "Systolic BP"),
    "hr": ("脈拍", "Heart rate"),
    "spo2": ("SpO2", "SpO2"),  # the bundled font has no subscript digits
    "hospitals": ("搬送先候補", "Hospitals"),
    "send_to_selected": ("選択した病院へ一斉照会", "Send to selected hospitals"),
    "answers": ("病院からの回答", "Hospital answers"),
    "accepted": ("受入可", "Accepted"),
    "declined": ("受入不可", "Declined"),
    "pending": ("回答待ち", "Waiting"),
    "selected": ("搬送先決定", "Destination"),
    "released": ("解除", "Released"),
    "confirm_destination": ("この病院に決定", "Confirm this hospital"),
    "queue": ("送信待ち", "Send queue"),
    "open_case": ("事案の登録", "Open case"),
    "send_to_hospitals": ("病院への照会", "Ask hospitals"),
    "queued": ("待機中", "Queued"),
    "sending": ("送信中", "Sending"),
    "sent": ("送信済", "Sent"),
    "failed": ("失敗", "Failed"),
    "inbox": ("受入照会", "Incoming requests"),
    "new_request": ("新しい受入照会があります", "New ambulance request"),
    "accept": ("受入可", "Accept"),
    "decline": ("受入不可", "Decline"),
    "no_beds": ("満床", "No beds"),
    "no_specialist": ("専門医不在", "No specialist"),
    "treating_another_patient": ("処置中", "Treating another patient"),
    "equipment_down": ("機器故障", "Equipment down"),
    "other": ("その他", "Other"),
    "board": ("受入状況", "Acceptance board"),
    "vacancies": ("空き状況", "Vacancies"),
    "my_bookings": ("予約一覧", "My bookings"),
    "children": ("お子さま", "Children"),
    "intake_requests": ("一時保護の依頼", "Intake requests"),
    "no_items": ("ありません", "Nothing yet"),
    "book": ("予約", "Book"),
    "cancel": ("取消", "Cancel"),
    "provisional": ("仮予約", "Provisional"),
    "confirmed": ("本予約", "Confirmed"),
    "held": ("確保中", "Held for you"),
    "cancelled": ("取消済", "Cancelled"),
    "childcare": ("一時預かり", "Temporary childcare"),
    "reserve": ("申込", "Reserve"),
    "morning": ("午前", "Morning"),
    "afternoon": ("午後", "Afternoon"),
    "full_day": ("終日", "Full day"),
    "new_intake": ("一時保護の依頼", "New intake request"),
    "send_intake": ("全施設へ依頼", "Send to shelters"),
    "child_name": ("氏名", "Name"),
    "birth_date": ("生年月日", "Birth date"),
    "place": ("措置決定", "Place here"),
    "closed": ("終了", "Closed"),
    "placed": ("入所", "Placed"),
    "accepting": ("受入可", "Accepting"),
    "limited": ("制限あり", "Limited"),
    "not_accepting": ("受入不可", "Not accepting"),
    "role_resident": ("住民", "Resident"),
    "role_paramedic": ("救急隊", "Paramedic"),
    "role_er_staff": ("救急外来", "ER"),
    "role_caseworker": ("児童福祉司", "Caseworker"),
    "role_staff": ("職員", "Staff"),
    "role_admin": ("管理者", "Admin"),
}


class Translator:
    def __init__(self, locale: str = "ja") -> None:
        self.locale = locale

    def __call__(self, key: str) -> str:
        ja, en = LABELS.get(key, (key, key))
        return ja if self.locale == "ja" else en

    def toggle(self) -> None:
        self.locale = "en" if self.locale == "ja" else "ja"
