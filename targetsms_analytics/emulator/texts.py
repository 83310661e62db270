"""Answer texts of the emulated service.

The API error texts are copied from ``API.md`` (the vendor manual's list) on purpose, rather than
imported from the client, so that a typo on one side cannot hide in the other.
"""

from __future__ import annotations

PROVIDER_OUT_OF_SMS = "У нас закончились SMS. Для разрешения проблемы свяжитесь с менеджером."
OUT_OF_SMS = "Закончились SMS."
ACCOUNT_BLOCKED = "Аккаунт заблокирован."
PHONE_MISSING = "Укажите номер телефона."
PHONE_STOP_LISTED = "Номер телефона присутствует в стоп-листе."
DIRECTION_CLOSED_FOR_ACCOUNT = "Данное направление закрыто для вас."
DIRECTION_CLOSED = "Данное направление закрыто."
INSUFFICIENT_FUNDS = (
    "Недостаточно средств для отправки SMS. "
    "SMS будет отправлена как только вы пополните счет по данному направлению."
)
TEXT_REJECTED = "Текст SMS отклонен модератором."
SENDER_MISSING = "Нет отправителя."
SENDER_TOO_LONG = (
    "Отправитель не должен превышать 15 символов для цифровых номеров "
    "и 11 символов для буквенно-числовых."
)
PHONE_TOO_LONG = "Номер телефона должен быть меньше 15 символов."
TEXT_MISSING = "Нет текста сообщения."
LINK_MISSING = "Нет ссылки."
SENDER_UNKNOWN = "Такого отправителя Нет."
SENDER_NOT_MODERATED = "Отправитель не прошел модерацию."
DUPLICATE_REQUEST = "error: Попытка отправки более одного одинакового запроса в течение минуты"

#: Every error text of API.md's table, in the table's order.
API_ERROR_TEXTS: tuple[str, ...] = (
    PROVIDER_OUT_OF_SMS,
    OUT_OF_SMS,
    ACCOUNT_BLOCKED,
    PHONE_MISSING,
    PHONE_STOP_LISTED,
    DIRECTION_CLOSED_FOR_ACCOUNT,
    DIRECTION_CLOSED,
    INSUFFICIENT_FUNDS,
    TEXT_REJECTED,
    SENDER_MISSING,
    SENDER_TOO_LONG,
    PHONE_TOO_LONG,
    TEXT_MISSING,
    LINK_MISSING,
    SENDER_UNKNOWN,
    SENDER_NOT_MODERATED,
    DUPLICATE_REQUEST,
)

# Texts that are deliberately NOT in API.md: a client must treat them as unknown_response.
BAD_CREDENTIALS = "Неверный логин или пароль"
UNKNOWN_SMS_ID = "SMS с таким ID не найдена"

NOT_FOUND = "404 Not Found"

HTML_ERROR_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
