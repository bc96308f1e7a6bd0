"""The words of the survey and unsubscribe pages in `leal serve`, per shipped language, and
the language a customer's page is in.

The survey's questions and what the ends of each scale mean come from templates.surveys,
so the page asks exactly what the email asked.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your opinion",
        "comment": "Would you like to tell us more? (optional)",
        "send": "Send my answer",
        "choose": "Please choose a score for each question.",
        "too_long": "Your comment is too long: at most {max} characters, please.",
        "not_text": "Your comment could not be read. Please type it again.",
        "thanks_title": "Thank you!",
        "thanks": "We have your answer. If you change your mind, open the link in the email "
                  "again.",
        "points": "We have added {points} to your loyalty card.",
        "expired": "This page has expired. Please open the link in the email again.",
        "visit": "Visit {shop}",
    },
    "es": {
        "title": "Tu opinión",
        "comment": "¿Quieres contarnos algo más? (opcional)",
        "send": "Enviar mi respuesta",
        "choose": "Elige una puntuación para cada pregunta.",
        "too_long": "Tu comentario es demasiado largo: como máximo {max} caracteres.",
        "not_text": "No hemos podido leer tu comentario. Vuelve a escribirlo.",
        "thanks_title": "¡Gracias!",
        "thanks": "Hemos recibido tu respuesta. Si cambias de opinión, vuelve a abrir el "
                  "enlace del correo.",
        "points": "Hemos añadido {points} a tu tarjeta de fidelidad.",
        "expired": "Esta página ha caducado. Vuelve a abrir el enlace del correo.",
        "visit": "Visitar {shop}",
    },
    "ca": {
        "title": "La teva opinió",
        "comment": "Ens vols explicar alguna cosa més? (opcional)",
        "send": "Envia la resposta",
        "choose": "Tria una puntuació per a cada pregunta.",
        "too_long": "El comentari és massa llarg: com a màxim {max} caràcters.",
        "not_text": "No hem pogut llegir el comentari. Torna'l a escriure.",
        "thanks_title": "Gràcies!",
        "thanks": "Hem rebut la teva resposta. Si canvies d'opinió, torna a obrir l'enllaç "
                  "del correu.",
        "points": "Hem afegit {points} a la teva targeta de fidelitat.",
        "expired": "Aquesta pàgina ha caducat. Torna a obrir l'enllaç del correu.",
        "visit": "Visita {shop}",
    },
    "it": {
        "title": "La tua opinione",
        "comment": "Vuoi dirci qualcosa di più? (facoltativo)",
        "send": "Invia la risposta",
        "choose": "Scegli un punteggio per ogni domanda.",
        "too_long": "Il tuo commento è troppo lungo: al massimo {max} caratteri.",
        "not_text": "Non siamo riusciti a leggere il tuo commento. Scrivilo di nuovo.",
        "thanks_title": "Grazie!",
        "thanks": "Abbiamo ricevuto la tua risposta. Se cambi idea, apri di nuovo il link "
                  "nell'email.",
        "points": "Abbiamo aggiunto {points} alla tua carta fedeltà.",
        "expired": "Questa pagina è scaduta. Apri di nuovo il link nell'email.",
        "visit": "Visita {shop}",
    },
    "ro": {
        "title": "Părerea ta",
        "comment": "Vrei să ne mai spui ceva? (opțional)",
        "send": "Trimite răspunsul",
        "choose": "Alege un scor pentru fiecare întrebare.",
        "too_long": "Comentariul este prea lung: cel mult {max} de caractere.",
        "not_text": "Nu am putut citi comentariul. Te rugăm să-l scrii din nou.",
        "thanks_title": "Mulțumim!",
        "thanks": "Am primit răspunsul tău. Dacă te răzgândești, deschide din nou linkul "
                  "din e-mail.",
        "points": "Am adăugat {points} pe cardul tău de fidelitate.",
        "expired": "Această pagină a expirat. Deschide din nou linkul din e-mail.",
        "visit": "Vizitează {shop}",
    },
}  # fmt: skip

# "points" by CLDR plural category (templates.sandbox.format_count).
POINTS: dict[str, dict[str, str]] = {
    "en": {"one": "point", "other": "points"},
    "es": {"one": "punto", "other": "puntos"},
    "ca": {"one": "punt", "other": "punts"},
    "it": {"one": "punto", "other": "punti"},
    "ro": {"one": "punct", "few": "puncte", "other": "de puncte"},
}

# The unsubscribe pages (workers.web): the confirmation a GET shows, the page after it.
UNSUBSCRIBE: dict[str, dict[str, str]] = {
    "en": {
        "ask_email": "Stop emails from {shop}?",
        "ask_sms": "Stop text messages from {shop}?",
        "keep": "Your points and your loyalty card stay yours.",
        "button": "Unsubscribe",
        "done": "You are unsubscribed.",
        "done_email": "You will not receive any more emails from us.",
        "done_sms": "You will not receive any more text messages from us.",
    },
    "es": {
        "ask_email": "¿Dejar de recibir correos de {shop}?",
        "ask_sms": "¿Dejar de recibir SMS de {shop}?",
        "keep": "Tus puntos y tu tarjeta de fidelidad siguen siendo tuyos.",
        "button": "Darme de baja",
        "done": "Te has dado de baja.",
        "done_email": "No volverás a recibir correos nuestros.",
        "done_sms": "No volverás a recibir SMS nuestros.",
    },
    "ca": {
        "ask_email": "Vols deixar de rebre correus de {shop}?",
        "ask_sms": "Vols deixar de rebre SMS de {shop}?",
        "keep": "Els teus punts i la teva targeta de fidelitat continuen sent teus.",
        "button": "Dona'm de baixa",
        "done": "T'has donat de baixa.",
        "done_email": "No tornaràs a rebre correus nostres.",
        "done_sms": "No tornaràs a rebre SMS nostres.",
    },
    "it": {
        "ask_email": "Non vuoi più ricevere email da {shop}?",
        "ask_sms": "Non vuoi più ricevere SMS da {shop}?",
        "keep": "I tuoi punti e la tua carta fedeltà restano tuoi.",
        "button": "Annulla l'iscrizione",
        "done": "Iscrizione annullata.",
        "done_email": "Non riceverai più email da noi.",
        "done_sms": "Non riceverai più SMS da noi.",
    },
    "ro": {
        "ask_email": "Nu mai vrei e-mailuri de la {shop}?",
        "ask_sms": "Nu mai vrei SMS-uri de la {shop}?",
        "keep": "Punctele și cardul tău de fidelitate rămân ale tale.",
        "button": "Dezabonează-mă",
        "done": "Te-ai dezabonat.",
        "done_email": "Nu vei mai primi e-mailuri de la noi.",
        "done_sms": "Nu vei mai primi SMS-uri de la noi.",
    },
}
