"""Labels in Japanese (default) and English."""

from __future__ import annotations

from mobile.api import Failure

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
    "add_to_calendar": ("カレンダーに追加", "Add to calendar"),
    "children": ("お子さま", "Children"),
    "intake_requests": ("一時保護の依頼", "Intake requests"),
    "no_items": ("ありません", "Nothing yet"),
    "details": ("詳細", "Details"),
    "attach_photo": ("写真を添付", "Attach a photo"),
    "photos": ("写真", "Photos"),
    "lottery": ("抽選", "Lotteries"),
    "closes": ("締切", "closes"),
    "day": ("日", "Day"),
    "hour": ("時", "Hour"),
    "apply": ("申し込む", "Apply"),
    "won": ("当選", "Won"),
    "lost": ("落選", "Not drawn"),
    "waiting_draw": ("抽選待ち", "Waiting for the draw"),
    "close": ("閉じる", "Close"),
    "allergies": ("アレルギー", "Allergies"),
    "medications": ("服薬", "Medications"),
    "book": ("予約", "Book"),
    "take_offer": ("この枠を予約", "Book this slot"),
    "reserved": ("予約済", "Reserved"),
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
    # Board statuses: worded apart from the inbox's accept/decline buttons.
    "accepting": ("受入体制あり", "Accepting"),
    "limited": ("受入制限中", "Limited"),
    "not_accepting": ("受入停止中", "Not accepting"),
    "role_resident": ("住民", "Resident"),
    "role_paramedic": ("救急隊", "Paramedic"),
    "role_er_staff": ("救急外来", "ER"),
    "role_caseworker": ("児童福祉司", "Caseworker"),
    "role_staff": ("職員", "Staff"),
    "role_admin": ("管理者", "Admin"),
    "select_hospital": ("病院を選んでください", "Select at least one hospital"),
    "no_connection": ("通信できません。接続が戻ると送信します", "No connection; will send when it returns"),
    "acknowledge": ("確認しました", "Acknowledge"),
    "previous_day": ("前の日", "Previous day"),
    "next_day": ("次の日", "Next day"),
    "beds_fewer": ("ベッドを減らす", "fewer beds"),
    "beds_more": ("ベッドを増やす", "more beds"),
    "disconnected": ("切断中 — 再接続しています", "Disconnected — reconnecting"),
}

# Problem+json `type` slugs (backend/errors.py and the services) → what a person reads.
PROBLEMS: dict[str, tuple[str, str]] = {
    "bad-request": ("リクエストが正しくありません", "The request is not valid"),
    "malformed-json": ("送信内容を読み取れませんでした", "The request could not be read"),
    "validation": ("入力内容を確認してください", "Please check what you entered"),
    "invalid-parameter": ("指定が正しくありません", "A parameter is not valid"),
    "unauthorized": ("もう一度ログインしてください", "Please log in again"),
    "bad-credentials": ("メールアドレスまたはパスワードが違います", "E-mail or password is wrong"),
    "forbidden": ("この操作の権限がありません", "Your role does not allow this"),
    "not-found": ("見つかりません", "Not found"),
    "method-not-allowed": ("この操作はできません", "This action is not allowed"),
    "body-too-large": ("データが大きすぎます", "Too much data"),
    "unsupported-media-type": ("この形式は送れません", "This format cannot be sent"),
    "not-an-image": ("画像 (JPEG または PNG) を選んでください", "Please choose a JPEG or PNG image"),
    "too-many-requests": ("操作が多すぎます。少し待ってください", "Too many requests; please wait a moment"),
    "unavailable": ("ただいま混み合っています。後でもう一度", "Busy right now; please try again shortly"),
    "record-integrity": ("記録を確認できません。管理者へ連絡を", "A record failed its check; call the admin"),
    "internal": ("サーバーでエラーが起きました", "The server failed"),
    "http-error": ("リクエストが失敗しました", "The request failed"),
    "conflict": ("他の登録と重なっています", "Conflicts with something already there"),
    "unknown-reference": ("存在しないものを指しています", "Refers to something that does not exist"),
    "email-taken": ("このメールアドレスは登録済みです", "This e-mail already has an account"),
    "already-member": ("すでにこの役割があります", "The account already has this role"),
    "unknown-account": ("アカウントが見つかりません", "No such account"),
    "session-exists": ("すでにログインしています", "Already logged in"),
    "bad-cursor": ("一覧を読み直してください", "Please reload the list"),
    "bad-idempotency-key": ("送信キーが正しくありません", "The Idempotency-Key is not valid"),
    "idempotency-key-reused": ("同じ送信キーが別の内容に使われました", "The Idempotency-Key was used for other data"),
    "request-in-progress": ("送信中です。少し待ってください", "Still being sent; please wait"),
    "too-many-idempotency-keys": ("送信が多すぎます。ログインしてください", "Too many sends; please log in"),
    "too-many-devices": ("登録端末が多すぎます。1 台外してください", "Too many devices; remove one first"),
    "quota-exceeded": ("上限に達しました", "Limit reached"),
    # Facility booking and lotteries
    "slot-taken": ("この枠はすでに予約されています", "This slot is already booked"),
    "slot-free": ("この枠は空いています。そのまま予約できます", "This slot is free; book it directly"),
    "monthly-cap": ("今月の予約上限に達しています", "You reached this month's booking limit"),
    "cap-reached": ("予約上限に達しています", "Booking limit reached"),
    "cancel-deadline-passed": ("取消期限を過ぎています", "The cancellation deadline has passed"),
    "not-cancellable": ("取り消せません", "This cannot be cancelled"),
    "not-provisional": ("仮予約ではありません", "Not a provisional booking"),
    "payment-required": ("窓口でお支払いください", "Please pay at the facility"),
    "already-waiting": ("すでにキャンセル待ちです", "Already on the waitlist"),
    "too-many-waitlist-entries": ("キャンセル待ちが多すぎます", "Too many waitlist entries"),
    "lottery-only": ("この枠は抽選でのみ申し込めます", "This slot is allocated by lottery only"),
    "lottery-not-open": ("抽選の受付期間ではありません", "The lottery is not open"),
    "lottery-not-closed": ("抽選の受付がまだ終わっていません", "The lottery has not closed yet"),
    "already-drawn": ("すでに抽選済みです", "Already drawn"),
    # Childcare
    "full": ("満員です", "Full"),
    "place-free": ("空きがあります。そのまま申し込めます", "A place is free; reserve it directly"),
    "already-applied": ("この園にはすでに申請中です", "Already applied there"),
    "already-reserved": ("すでに申し込んでいます", "Already reserved"),
    "not-reserved": ("申込がありません", "Not reserved"),
    "not-approved": ("この園の利用登録がまだ承認されていません", "Not yet approved at this nursery"),
    "already-approved": ("すでに承認されています", "Already approved"),
    "application-decided": ("この申請はすでに決定済みです", "This application has been decided"),
    "session-started": ("すでに始まっています", "This session has already started"),
    # Shelters
    "shelter-full": ("空きベッドがありません", "No free bed"),
    "over-capacity": ("入所中の人数より少なくできません", "Cannot go below the children in care"),
    "request-closed": ("この依頼は終了しています", "This request is closed"),
    "request-not-open": ("この依頼は受付中ではありません", "This request is not open"),
    "not-accepted": ("受入可の回答がありません", "That shelter has not accepted"),
    "already-placed": ("すでに措置されています", "Already placed"),
    "already-discharged": ("すでに退所しています", "Already discharged"),
    # EMS
    "destination-set": ("搬送先はすでに決まっています", "The destination is already set"),
    "too-many-attachments": ("写真が多すぎます", "Too many photos"),
}


class Translator:
    def __init__(self, locale: str = "ja") -> None:
        self.locale = locale

    def __call__(self, key: str) -> str:
        ja, en = LABELS.get(key, (key, key))
        return ja if self.locale == "ja" else en

    def failure(self, failure: Failure) -> str:
        """An error in the chosen language: a device-side key, or the server's problem by its slug."""
        if isinstance(failure, str):
            return self(failure)
        if failure.offline:
            return self("no_connection")
        ja, en = PROBLEMS.get(failure.slug, (failure.title, failure.title))
        message = ja if self.locale == "ja" else en
        # Field errors keep the server's path and words: they say which field, which a summary cannot.
        fields = "; ".join(f"{e['field']}: {e['message']}" for e in failure.errors)
        return f"{message} ({fields})" if fields else message

    def toggle(self) -> None:
        self.locale = "en" if self.locale == "ja" else "ja"
