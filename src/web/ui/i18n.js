// The dashboard's words, in English and French.
//
// The language is the one chosen in the settings (stored per token on the server), else the
// one last picked on this browser (remembered so the login page speaks it too), else the
// browser's own. `t(key, vars)` replaces `{name}` with `vars.name`; a missing French word
// falls back to English rather than showing a key.

const en = {
  'app.name': 'OVH call dashboard',
  'skip': 'Skip to content',
  'nav.overview': 'Overview', 'nav.queues': 'Queues', 'nav.wallboard': 'Wallboard', 'nav.history': 'History',
  'nav.reports': 'Reports', 'nav.settings': 'Settings', 'nav.help': 'Help', 'nav.main': 'Main menu',
  'logout': 'Log out', 'language': 'Language', 'lang.auto': 'Browser language', 'lang.fr': 'Français', 'lang.en': 'English',
  'account': 'Signed in with token {hint}',
  'health.live': 'Live', 'health.silent': 'Silent for {n} min', 'health.failing': 'Feed failing',
  'health.stalled': 'Feed stalled (OVH not answering)', 'health.store_failing': 'Database not writing — showing the last state',
  'health.starting': 'Connecting to OVH…', 'health.unknown': 'Feed state unknown', 'health.offline': 'Service unreachable — reconnecting…',
  'health.title': 'State of the OVH event feed',
  'login.title': 'Sign in', 'login.intro': 'Paste the event token of your OVHcloud telephony account. It is used as a password: it is never shown again once you are signed in.',
  'login.token': 'Token', 'login.remember': 'Keep me signed in (30 days)', 'login.submit': 'Sign in',
  'login.help': 'How do I create a token?', 'login.format': 'A token looks like ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB (32 hexadecimal digits in five groups).',
  'login.empty': 'Enter your token.', 'login.bad_format': 'This is not a token: expected five groups of hexadecimal digits, 8-4-4-4-12, e.g. ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB.',
  'login.refused': 'This token was refused: this service does not follow it. Ask the administrator to add it.',
  'login.rate': 'Too many attempts. Wait a minute, then try again.', 'login.failed': 'Sign-in failed ({status}). Try again.',
  'login.network': 'The service cannot be reached. Check your connection and try again.',
  'login.checking': 'Checking the token with OVH…',
  'login.ovh_refused': 'OVH does not know this token. Check that it was copied whole and has not expired (a token lives 5 minutes to unlimited, as chosen when it was created).',
  'login.ovh_unreachable': 'OVH cannot be reached to check this token. Try again in a moment.',
  'login.too_many_tokens': 'This service already follows as many tokens as it is allowed to. Ask the administrator.',
  'login.checks_busy': 'Another token from your address is being checked with OVH. Wait a moment, then try again.',
  'login.busy': 'Many tokens are being checked with OVH right now. Try again in a few seconds.',
  'health.paused': 'Paused: OVH refuses this token',
  'token.title': 'This token', 'token.hint': 'Signed in with the token {hint}.',
  'banner.refused': 'OVH refuses this token since {since} ({error}): it may have expired, been deleted or mistyped. Create a new one and use it here.', 'banner.paused': 'This token is paused: {reason}.', 'banner.change': 'Change token',
  'token.change_label': 'Use another token', 'token.change': 'Change token', 'token.checking': 'Checking the token with OVH…',
  'token.forget': 'Forget this token…', 'token.forget_intro': 'The service stops following this token: it forgets the token, signs out everyone using it and closes their dashboards. Its stored history (calls, queue journal, settings, webhooks) is kept for when the token is typed again, unless you delete it too.',
  'token.forget_confirm': 'Forget this token now? Everyone using it is signed out.', 'token.purge': 'Also delete its stored history (cannot be undone)',
  'token.forget_button': 'Forget the token', 'token.configured': 'This token is set in the service\'s configuration: only the administrator can remove it.',
  'token.error': 'Not done: {msg}',
  'never': 'never', 'none': 'Nothing to show.', 'loading': 'Loading…',
  'age.s': '{n} s ago', 'age.m': '{n} min ago', 'age.h': '{n} h ago', 'age.d': '{n} d ago',
  'dir.incoming': 'incoming', 'dir.outgoing': 'outgoing', 'dir.unknown': 'unknown',
  'status.free': 'free', 'status.ringing': 'ringing', 'status.in_call': 'in call', 'status.unknown': 'unknown',
  'caller.waiting': 'waiting', 'caller.offered': 'offered', 'caller.in_call': 'in conversation',
  'overview.title': 'Overview', 'overview.lines': 'Lines', 'overview.queues': 'Call queues', 'overview.calls': 'Calls in progress',
  'overview.log': 'Call log', 'overview.since': 'Figures since {at}', 'overview.only_active': 'Showing only numbers in a call (see Settings).',
  'col.status': 'Status', 'col.number': 'Number', 'col.description': 'Description', 'col.calls': 'Calls now / allowed',
  'col.registered': 'Registered', 'col.waiting': 'Waiting', 'col.started': 'Started', 'col.line': 'Line', 'col.from_to': 'Caller → called',
  'col.dialed': 'Dialled', 'col.state': 'State', 'col.duration': 'Duration', 'col.date': 'Date', 'col.protocol': 'Protocol',
  'col.event': 'Event', 'col.direction': 'Direction', 'col.latency': 'Feed latency', 'col.kind': 'Kind', 'col.answered': 'Answered',
  'col.abandoned': 'Abandoned', 'col.total': 'Total', 'col.answered_pct': 'Answered %', 'col.waiting_now': 'Waiting now',
  'col.avg_wait': 'Average wait', 'col.max_wait': 'Longest wait', 'col.avg_talk': 'Average talk', 'col.service_level': 'Service level',
  'col.caller': 'Caller', 'col.agent': 'Agent', 'col.timer': 'Waiting for', 'col.offered': 'Agent offered', 'col.talk': 'Talk time',
  'col.waited': 'Time waited', 'col.queue': 'Queue', 'col.wait': 'Wait', 'col.outcome': 'Outcome', 'col.ended': 'Ended', 'col.ring': 'Ring',
  'col.reason': 'Reason', 'col.hour': 'Hour', 'col.missed': 'Missed', 'col.unanswered': 'Unanswered', 'col.entered': 'Entered',
  'col.attempts': 'Attempts', 'col.done': 'Done', 'callbacks.done': 'Mark done', 'callbacks.undo': 'Not done', 'callbacks.done_at': 'done', 'col.last': 'Last attempt', 'col.where': 'Where', 'col.conversation': 'Caller ⇒ agent',
  'queues.title': 'Call queues', 'queues.none': 'No call queue has been seen on this token yet.',
  'queues.waiting': 'Callers waiting', 'queues.conversations': 'Conversations in progress', 'queues.journal': 'Queue journal',
  'queues.figures': 'Figures', 'kind.easy': 'easy (easyHunting)', 'kind.expert': 'expert (cloudHunting)',
  'sl.ok': 'on target ({target} % within {s} s)', 'sl.bad': 'below target ({target} % within {s} s)', 'sl.none': 'no caller yet',
  'wallboard.title': 'Wallboard', 'wallboard.waiting': 'waiting', 'wallboard.longest': 'longest wait', 'wallboard.in_call': 'in conversation',
  'outcome.answered': 'answered', 'outcome.missed': 'missed', 'outcome.unanswered': 'unanswered', 'outcome.unknown': 'unknown',
  'outcome.queue_offer': 'queue ring not taken', 'history.via': 'via {queue}',
  'outcome.abandoned': 'abandoned', 'any': 'any',
  'history.title': 'History', 'history.calls': 'Calls', 'history.journal': 'Queue journal', 'history.callbacks': 'To call back',
  'filter.number': 'Line', 'filter.queue': 'Queue', 'filter.direction': 'Direction', 'filter.outcome': 'Outcome', 'filter.from': 'From (date)',
  'filter.to': 'To (date, included)', 'filter.q': 'Number or name', 'filter.apply': 'Filter', 'filter.clear': 'Clear',
  'history.more': 'Show more', 'history.csv': 'Download CSV of this filter', 'history.csv_excel_fr': 'CSV for Excel (French)', 'history.count': '{n} rows shown',
  'history.error': 'Cannot read the history: {msg}', 'callbacks.intro': 'Callers who left a queue unanswered or whose call was missed, and who were not reached afterwards (by an answered call either way), in the chosen dates.',
  'reports.title': 'Reports', 'reports.from': 'From', 'reports.to': 'To (included)', 'reports.show': 'Show',
  'reports.calls': 'Calls per hour', 'reports.queues': 'Queue service level and waits', 'reports.sl': 'Service level (%)',
  'reports.wait': 'Average wait (s)', 'reports.table': 'Figures', 'reports.chart_calls': 'Chart: calls per hour, answered and missed',
  'reports.no_queue': 'No queue caller in this period.', 'reports.totals': 'Total',
  'settings.title': 'Settings', 'settings.display': 'Display', 'settings.only_active': 'Show only numbers in a call (overview)',
  'settings.reset_midnight': 'Reset the figures at midnight', 'settings.reset_now': 'Reset now…',
  'settings.reset_confirm': 'Reset the live figures now? Statistics, the journal shown and the numbers learned are cleared; stored history stays.',
  'settings.reset_done': 'The figures were reset.', 'cancel': 'Cancel', 'confirm': 'Reset',
  'settings.queues': 'Queues', 'settings.sl_s': 'Service-level threshold (seconds)', 'settings.sl_target': 'Service-level target (%)',
  'settings.region': 'Time and language', 'settings.timezone': 'Time zone', 'settings.language': 'Language',
  'settings.pop': 'Screen pop (customer record)', 'settings.pop_enabled': 'Open a URL on calls', 'settings.pop_mode': 'Mode',
  'mode.modal': 'Modal window in the dashboard', 'mode.popup': 'Pop-up window', 'mode.silent': 'Silent request by the service',
  'settings.pop_url': 'URL', 'settings.pop_url_hint': 'http or https; variables: *CALLING*, *CALLED*, *DIALED*, *EVENT*, *CALLID*, *NUMBER*, *DESCRIPTION*, *AGENT*',
  'settings.pop_events': 'Events', 'settings.pop_directions': 'Line calls', 'settings.preview': 'Preview with sample values',
  'settings.save': 'Save', 'settings.saved': 'Settings saved.', 'settings.error': 'Not saved: {msg}',
  'settings.url_bad': 'Enter a full http:// or https:// address, e.g. https://crm.example/lookup?n=*CALLING*.',
  'settings.url_needed': 'A URL is needed to turn the screen pop on.',
  'help.title': 'Help',
  'error.generic': 'Something went wrong: {msg}',
  'nav.webhooks': 'Webhooks',
  'pop.unknown_caller': 'unknown caller', 'pop.title': 'Call from {caller}', 'pop.line': 'on {line}',
  'pop.close': 'Close', 'pop.close_all': 'Close all', 'pop.prev': 'Previous', 'pop.next': 'Next', 'pop.count': '{i} of {n}',
  'pop.new_tab': 'Open in a new tab', 'pop.refused_hint': 'Blank page? The site refuses to be shown here: open it in a new tab.',
  'pop.notices': 'Screen pops', 'pop.blocked': 'Pop-up blocked — open the CRM page', 'pop.dismiss': 'Dismiss',
  'pop.blocked_hint': 'The browser blocked the pop-up window.', 'pop.blocked_help': 'How to allow pop-ups',
  'settings.pop_numbers': 'Lines and queues', 'settings.pop_numbers_all': 'All lines and queues of this token',
  'settings.pop_numbers_some': 'Only these:', 'settings.pop_numbers_none': 'No line or queue seen yet.',
  'settings.pop_numbers_empty': 'Choose at least one line or queue, or "All".',
  'settings.pop_kind_line': 'line', 'settings.pop_kind_queue': 'queue', 'settings.pop_kind_other': 'not seen lately',
  'settings.notify': 'Desktop notifications (this browser)', 'settings.notify_label': 'Show a desktop notification for each screen pop',
  'settings.notify_hint': 'Caller, line and description; a click brings the dashboard forward and opens the page. Kept on this browser only.',
  'settings.notify_unsupported': 'This browser cannot show notifications.',
  'settings.notify_on': 'Notifications are on for this browser.', 'settings.notify_off': 'Notifications are off.',
  'settings.notify_denied': 'The browser refused: allow notifications for this site in its settings, then try again.',
  'hooks.title': 'Webhooks', 'hooks.intro': 'Each endpoint receives the chosen events as a signed JSON POST (Standard Webhooks), retried when it fails. Screen pops in silent mode and webhooks are listed in the delivery log below.',
  'hooks.endpoints': 'Endpoints', 'hooks.none': 'No endpoint yet.', 'hooks.url': 'URL', 'hooks.events': 'Events',
  'hooks.last_success': 'Last success', 'hooks.enabled': 'enabled', 'hooks.disabled': 'disabled', 'hooks.failing_since': 'failing since',
  'hooks.test': 'Send test event', 'hooks.enable': 'Enable again', 'hooks.delete': 'Delete',
  'hooks.delete_confirm': 'Delete the endpoint {url}? Its pending deliveries are dropped.', 'hooks.deleted': 'Endpoint deleted.',
  'hooks.test_queued': 'Test event queued ({id}); its delivery shows in the log below.', 'hooks.enabled_again': 'Endpoint enabled again.',
  'hooks.error': 'Failed: {msg}', 'hooks.all_events': 'All events', 'hooks.events_chosen': 'Only these events',
  'hooks.add': 'Add an endpoint', 'hooks.url_hint': 'http:// or https://; addresses on your own network need the administrator\'s --webhook-allow.',
  'hooks.description': 'Description (optional)', 'hooks.create': 'Create',
  'hooks.secret_title': 'Signing secret of {url}', 'hooks.secret_warning': 'Copy it now and keep it safe: it is shown only this once. Your receiver needs it to verify signatures.',
  'hooks.copy': 'Copy', 'hooks.copied': 'Copied.', 'hooks.copy_manually': 'Selected: press Ctrl+C to copy.', 'hooks.secret_done': 'I have kept it',
  'hooks.log': 'Delivery log', 'hooks.log_intro': 'Every request the service made, newest first; query values in URLs are masked.',
  'hooks.endpoint': 'Endpoint', 'hooks.refresh': 'Refresh', 'hooks.no_delivery': 'No delivery yet.',
  'delivery.status': 'HTTP status', 'delivery.latency': 'Latency', 'delivery.error': 'Error', 'delivery.attempt': 'Attempt',
  'delivery.delivered': 'delivered', 'delivery.retry': 'will retry', 'delivery.failed': 'failed', 'delivery.gave_up': 'given up',
  'kind.pop': 'screen pop', 'kind.webhook': 'webhook',
  'col.called': 'Called', 'reports.no_calls': 'No call in this period.', 'reports.no_queue_calls': 'No caller in this queue in this period.',
  'reason.terminated': 'after a conversation', 'reason.hangup': 'the caller hung up', 'reason.timeout': 'longest wait reached',
  'reason.no_agent': 'no agent available', 'reason.exit_with_key': 'left with a key', 'reason.expired': 'no end received (expired)',
  'event.registered': 'registered', 'event.start_ringing': 'ringing', 'event.end_ringing': 'ringing ended',
  'event.start_calling': 'call started', 'event.end_calling': 'call ended', 'event.member-queue-start': 'caller entered the queue',
  'event.agent-offering': 'offered to an agent', 'event.bridge-agent-start': 'agent answered', 'event.bridge-agent-fail': 'agent did not answer',
  'event.bridge-agent-end': 'agent conversation ended', 'event.member-queue-end': 'caller left the queue', 'event.members-count': 'callers in the queue',
  'event.member-count': 'callers in the queue',
  'log.page': 'Page {n} of {of}', 'log.newer': 'Newer', 'log.older': 'Older', 'log.newest': 'Newest',
  'wall.exit': 'Esc: leave the wall screen', 'wall.clock': 'Time',
};

const fr = {
  'app.name': 'Tableau de bord des appels OVH',
  'skip': 'Aller au contenu',
  'nav.overview': "Vue d'ensemble", 'nav.queues': "Files d'appels", 'nav.wallboard': 'Mur', 'nav.history': 'Historique',
  'nav.reports': 'Rapports', 'nav.settings': 'Configuration', 'nav.help': 'Aide', 'nav.main': 'Menu principal',
  'logout': 'Se déconnecter', 'language': 'Langue', 'lang.auto': 'Langue du navigateur', 'lang.fr': 'Français', 'lang.en': 'English',
  'account': 'Connecté avec le token {hint}',
  'health.live': 'En direct', 'health.silent': 'Silencieux depuis {n} min', 'health.failing': 'Flux en échec',
  'health.stalled': 'Flux bloqué (OVH ne répond pas)', 'health.store_failing': 'Base de données en échec — dernier état affiché',
  'health.starting': 'Connexion à OVH…', 'health.unknown': 'État du flux inconnu', 'health.offline': 'Service injoignable — reconnexion…',
  'health.title': "État du flux d'événements OVH",
  'login.title': 'Connexion', 'login.intro': "Collez le token d'événements de votre compte de téléphonie OVHcloud. Il sert de mot de passe : il n'est plus jamais affiché une fois connecté.",
  'login.token': 'Token', 'login.remember': 'Rester connecté (30 jours)', 'login.submit': 'Se connecter',
  'login.help': 'Comment créer un token ?', 'login.format': 'Un token ressemble à ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB (32 chiffres hexadécimaux en cinq groupes).',
  'login.empty': 'Saisissez votre token.', 'login.bad_format': "Ce n'est pas un token : cinq groupes de chiffres hexadécimaux sont attendus, 8-4-4-4-12, par exemple ABCDEFAB-CDEF-ABCD-EFAB-CDEFABCDEFAB.",
  'login.refused': "Ce token a été refusé : ce service ne le suit pas. Demandez à l'administrateur de l'ajouter.",
  'login.rate': 'Trop de tentatives. Attendez une minute puis réessayez.', 'login.failed': 'La connexion a échoué ({status}). Réessayez.',
  'login.network': 'Le service est injoignable. Vérifiez votre connexion et réessayez.',
  'login.checking': 'Vérification du token auprès d\'OVH…',
  'login.ovh_refused': "OVH ne connaît pas ce token. Vérifiez qu'il a été copié en entier et qu'il n'a pas expiré (un token vit de 5 minutes à une durée illimitée, selon le choix fait à sa création).",
  'login.ovh_unreachable': 'OVH est injoignable pour vérifier ce token. Réessayez dans un instant.',
  'login.too_many_tokens': "Ce service suit déjà autant de tokens qu'il le peut. Adressez-vous à l'administrateur.",
  'login.checks_busy': "Un autre token de votre adresse est en cours de vérification auprès d'OVH. Patientez un instant puis réessayez.",
  'login.busy': "Beaucoup de tokens sont en cours de vérification auprès d'OVH. Réessayez dans quelques secondes.",
  'health.paused': 'En pause : OVH refuse ce token',
  'token.title': 'Ce token', 'token.hint': 'Connecté avec le token {hint}.',
  'banner.refused': "OVH refuse ce token depuis {since} ({error}) : il a peut-être expiré, été supprimé ou mal saisi. Créez-en un nouveau et utilisez-le ici.", 'banner.paused': 'Ce token est en pause : {reason}.', 'banner.change': 'Changer de token',
  'token.change_label': 'Utiliser un autre token', 'token.change': 'Changer de token', 'token.checking': 'Vérification du token auprès d’OVH…',
  'token.forget': 'Oublier ce token…', 'token.forget_intro': "Le service cesse de suivre ce token : il l'oublie, déconnecte tous ceux qui l'utilisent et ferme leurs tableaux de bord. Son historique enregistré (appels, journal des files, configuration, webhooks) est conservé pour le jour où le token sera de nouveau saisi, sauf si vous le supprimez aussi.",
  'token.forget_confirm': 'Oublier ce token maintenant ? Tous ceux qui l\'utilisent sont déconnectés.', 'token.purge': "Supprimer aussi son historique enregistré (irréversible)",
  'token.forget_button': 'Oublier le token', 'token.configured': "Ce token est défini dans la configuration du service : seul l'administrateur peut le retirer.",
  'token.error': 'Échec : {msg}',
  'never': 'jamais', 'none': 'Rien à afficher.', 'loading': 'Chargement…',
  'age.s': 'il y a {n} s', 'age.m': 'il y a {n} min', 'age.h': 'il y a {n} h', 'age.d': 'il y a {n} j',
  'dir.incoming': 'entrant', 'dir.outgoing': 'sortant', 'dir.unknown': 'inconnu',
  'status.free': 'libre', 'status.ringing': 'sonne', 'status.in_call': 'en appel', 'status.unknown': 'inconnu',
  'caller.waiting': 'en attente', 'caller.offered': 'proposé', 'caller.in_call': 'en conversation',
  'overview.title': "Vue d'ensemble", 'overview.lines': 'Lignes', 'overview.queues': "Files d'appels", 'overview.calls': 'Appels en cours',
  'overview.log': 'Journal des appels', 'overview.since': 'Chiffres depuis le {at}', 'overview.only_active': "Seuls les numéros en cours d'appel sont affichés (voir Configuration).",
  'col.status': 'État', 'col.number': 'Numéro', 'col.description': 'Description', 'col.calls': 'Appels en cours / autorisés',
  'col.registered': 'Enregistrement', 'col.waiting': 'En attente', 'col.started': 'Début', 'col.line': 'Ligne', 'col.from_to': 'Appelant → appelé',
  'col.dialed': 'Composé', 'col.state': 'État', 'col.duration': 'Durée', 'col.date': 'Date', 'col.protocol': 'Protocole',
  'col.event': 'Événement', 'col.direction': 'Sens', 'col.latency': 'Latence du flux', 'col.kind': 'Type', 'col.answered': 'Répondus',
  'col.abandoned': 'Perdus', 'col.total': 'Total', 'col.answered_pct': '% répondus', 'col.waiting_now': 'En attente',
  'col.avg_wait': 'Attente moyenne', 'col.max_wait': 'Attente max.', 'col.avg_talk': 'Conversation moyenne', 'col.service_level': 'Niveau de service',
  'col.caller': 'Appelant', 'col.agent': 'Agent', 'col.timer': 'Attend depuis', 'col.offered': 'Agent sollicité', 'col.talk': 'Conversation',
  'col.waited': 'Temps attendu', 'col.queue': 'File', 'col.wait': 'Attente', 'col.outcome': 'Issue', 'col.ended': 'Fin', 'col.ring': 'Sonnerie',
  'col.reason': 'Motif', 'col.hour': 'Heure', 'col.missed': 'Manqués', 'col.unanswered': 'Sans réponse', 'col.entered': 'Entrés',
  'col.attempts': 'Tentatives', 'col.done': 'Fait', 'callbacks.done': 'Marquer fait', 'callbacks.undo': 'Pas fait', 'callbacks.done_at': 'fait le', 'col.last': 'Dernière tentative', 'col.where': 'Où', 'col.conversation': 'Appelant ⇒ agent',
  'queues.title': "Files d'appels", 'queues.none': "Aucune file d'appels n'a encore été vue sur ce token.",
  'queues.waiting': 'Appelants en attente', 'queues.conversations': 'Conversations en cours', 'queues.journal': 'Journal des files',
  'queues.figures': 'Chiffres', 'kind.easy': 'simple (easyHunting)', 'kind.expert': 'expert (cloudHunting)',
  'sl.ok': 'objectif atteint ({target} % en {s} s)', 'sl.bad': 'sous l’objectif ({target} % en {s} s)', 'sl.none': 'aucun appelant',
  'wallboard.title': 'Mur', 'wallboard.waiting': 'en attente', 'wallboard.longest': 'plus longue attente', 'wallboard.in_call': 'en conversation',
  'outcome.answered': 'répondu', 'outcome.missed': 'manqué', 'outcome.unanswered': 'sans réponse', 'outcome.unknown': 'inconnu',
  'outcome.queue_offer': 'sonnerie de file non prise', 'history.via': 'via {queue}',
  'outcome.abandoned': 'perdu', 'any': 'tous',
  'history.title': 'Historique', 'history.calls': 'Appels', 'history.journal': 'Journal des files', 'history.callbacks': 'À rappeler',
  'filter.number': 'Ligne', 'filter.queue': 'File', 'filter.direction': 'Sens', 'filter.outcome': 'Issue', 'filter.from': 'Du (date)',
  'filter.to': 'Au (date, inclus)', 'filter.q': 'Numéro ou nom', 'filter.apply': 'Filtrer', 'filter.clear': 'Effacer',
  'history.more': 'Afficher plus', 'history.csv': 'Télécharger ce filtre en CSV', 'history.csv_excel_fr': 'CSV pour Excel (français)', 'history.count': '{n} lignes affichées',
  'history.error': "Impossible de lire l'historique : {msg}", 'callbacks.intro': "Appelants qui ont quitté une file sans réponse ou dont l'appel a été manqué, et qui n'ont pas été joints depuis (par un appel répondu dans un sens ou l'autre), sur les dates choisies.",
  'reports.title': 'Rapports', 'reports.from': 'Du', 'reports.to': 'Au (inclus)', 'reports.show': 'Afficher',
  'reports.calls': 'Appels par heure', 'reports.queues': 'Niveau de service et attentes des files', 'reports.sl': 'Niveau de service (%)',
  'reports.wait': 'Attente moyenne (s)', 'reports.table': 'Chiffres', 'reports.chart_calls': 'Graphique : appels par heure, répondus et manqués',
  'reports.no_queue': 'Aucun appelant en file sur cette période.', 'reports.totals': 'Total',
  'settings.title': 'Configuration', 'settings.display': "Configuration de l'affichage", 'settings.only_active': "Afficher seulement les numéros en cours d'appel",
  'settings.reset_midnight': 'Réinitialiser le cache à minuit', 'settings.reset_now': 'Réinitialiser le cache…',
  'settings.reset_confirm': "Réinitialiser maintenant ? Les statistiques, le journal affiché et les numéros appris sont effacés ; l'historique enregistré reste.",
  'settings.reset_done': 'Les chiffres ont été réinitialisés.', 'cancel': 'Annuler', 'confirm': 'Réinitialiser',
  'settings.queues': 'Files', 'settings.sl_s': 'Seuil du niveau de service (secondes)', 'settings.sl_target': 'Objectif de niveau de service (%)',
  'settings.region': 'Heure et langue', 'settings.timezone': 'Fuseau horaire', 'settings.language': 'Langue',
  'settings.pop': 'Appel du CGI (fiche client)', 'settings.pop_enabled': 'Ouvrir une URL lors des appels', 'settings.pop_mode': 'Mode',
  'mode.modal': 'Modal dans le tableau de bord', 'mode.popup': 'Fenêtre popup', 'mode.silent': 'Silencieux (requête du service)',
  'settings.pop_url': 'URL', 'settings.pop_url_hint': 'http ou https ; variables : *CALLING*, *CALLED*, *DIALED*, *EVENT*, *CALLID*, *NUMBER*, *DESCRIPTION*, *AGENT*',
  'settings.pop_events': 'Événements', 'settings.pop_directions': 'Appels des lignes', 'settings.preview': 'Aperçu avec des valeurs d’exemple',
  'settings.save': 'Enregistrer', 'settings.saved': 'Configuration enregistrée.', 'settings.error': 'Non enregistré : {msg}',
  'settings.url_bad': 'Saisissez une adresse complète http:// ou https://, par exemple https://crm.example/lookup?n=*CALLING*.',
  'settings.url_needed': "Une URL est nécessaire pour activer l'appel du CGI.",
  'help.title': 'Aide',
  'error.generic': 'Une erreur est survenue : {msg}',
  'nav.webhooks': 'Webhooks',
  'pop.unknown_caller': 'appelant inconnu', 'pop.title': 'Appel de {caller}', 'pop.line': 'sur {line}',
  'pop.close': 'Fermer', 'pop.close_all': 'Tout fermer', 'pop.prev': 'Précédent', 'pop.next': 'Suivant', 'pop.count': '{i} sur {n}',
  'pop.new_tab': 'Ouvrir dans un nouvel onglet', 'pop.refused_hint': "Page blanche ? Le site refuse d'être affiché ici : ouvrez-le dans un nouvel onglet.",
  'pop.notices': 'Appels du CGI', 'pop.blocked': 'Popup bloquée — ouvrir la fiche du CRM', 'pop.dismiss': 'Ignorer',
  'pop.blocked_hint': 'Le navigateur a bloqué la fenêtre popup.', 'pop.blocked_help': 'Comment autoriser les popups',
  'settings.pop_numbers': 'Lignes et files', 'settings.pop_numbers_all': 'Toutes les lignes et files de ce token',
  'settings.pop_numbers_some': 'Seulement celles-ci :', 'settings.pop_numbers_none': "Aucune ligne ni file vue pour l'instant.",
  'settings.pop_numbers_empty': 'Choisissez au moins une ligne ou une file, ou « Toutes ».',
  'settings.pop_kind_line': 'ligne', 'settings.pop_kind_queue': 'file', 'settings.pop_kind_other': 'pas vue récemment',
  'settings.notify': 'Notifications du bureau (ce navigateur)', 'settings.notify_label': "Afficher une notification du bureau à chaque appel du CGI",
  'settings.notify_hint': "Appelant, ligne et description ; un clic ramène le tableau de bord au premier plan et ouvre la page. Réglage propre à ce navigateur.",
  'settings.notify_unsupported': 'Ce navigateur ne sait pas afficher de notifications.',
  'settings.notify_on': 'Notifications activées sur ce navigateur.', 'settings.notify_off': 'Notifications désactivées.',
  'settings.notify_denied': 'Le navigateur a refusé : autorisez les notifications pour ce site dans ses réglages, puis réessayez.',
  'hooks.title': 'Webhooks', 'hooks.intro': "Chaque point de réception reçoit les événements choisis en POST JSON signé (Standard Webhooks), renvoyé en cas d'échec. Les appels du CGI en mode silencieux et les webhooks figurent dans le journal des envois ci-dessous.",
  'hooks.endpoints': 'Points de réception', 'hooks.none': "Aucun point de réception pour l'instant.", 'hooks.url': 'URL', 'hooks.events': 'Événements',
  'hooks.last_success': 'Dernier succès', 'hooks.enabled': 'actif', 'hooks.disabled': 'désactivé', 'hooks.failing_since': 'en échec depuis',
  'hooks.test': 'Envoyer un événement de test', 'hooks.enable': 'Réactiver', 'hooks.delete': 'Supprimer',
  'hooks.delete_confirm': 'Supprimer le point de réception {url} ? Ses envois en attente sont abandonnés.', 'hooks.deleted': 'Point de réception supprimé.',
  'hooks.test_queued': 'Événement de test en file ({id}) ; son envoi apparaît dans le journal ci-dessous.', 'hooks.enabled_again': 'Point de réception réactivé.',
  'hooks.error': 'Échec : {msg}', 'hooks.all_events': 'Tous les événements', 'hooks.events_chosen': 'Seulement ces événements',
  'hooks.add': 'Ajouter un point de réception', 'hooks.url_hint': "http:// ou https:// ; une adresse de votre réseau doit être autorisée par l'administrateur (--webhook-allow).",
  'hooks.description': 'Description (facultative)', 'hooks.create': 'Créer',
  'hooks.secret_title': 'Secret de signature de {url}', 'hooks.secret_warning': "Copiez-le maintenant et gardez-le en lieu sûr : il n'est affiché que cette fois. Votre récepteur en a besoin pour vérifier les signatures.",
  'hooks.copy': 'Copier', 'hooks.copied': 'Copié.', 'hooks.copy_manually': 'Sélectionné : appuyez sur Ctrl+C pour copier.', 'hooks.secret_done': "Je l'ai conservé",
  'hooks.log': 'Journal des envois', 'hooks.log_intro': 'Chaque requête faite par le service, la plus récente en premier ; les valeurs de paramètres des URL sont masquées.',
  'hooks.endpoint': 'Point de réception', 'hooks.refresh': 'Actualiser', 'hooks.no_delivery': "Aucun envoi pour l'instant.",
  'delivery.status': 'Statut HTTP', 'delivery.latency': 'Latence', 'delivery.error': 'Erreur', 'delivery.attempt': 'Tentative',
  'delivery.delivered': 'livré', 'delivery.retry': 'sera renvoyé', 'delivery.failed': 'échec', 'delivery.gave_up': 'abandonné',
  'kind.pop': 'appel du CGI', 'kind.webhook': 'webhook',
  'col.called': 'Appelé', 'reports.no_calls': 'Aucun appel sur cette période.', 'reports.no_queue_calls': "Aucun appelant dans cette file sur cette période.",
  'reason.terminated': 'après une conversation', 'reason.hangup': "l'appelant a raccroché", 'reason.timeout': 'attente maximale atteinte',
  'reason.no_agent': 'aucun agent disponible', 'reason.exit_with_key': 'sorti par une touche', 'reason.expired': 'fin jamais reçue (expiré)',
  'event.registered': 'enregistrée', 'event.start_ringing': 'sonnerie', 'event.end_ringing': 'fin de sonnerie',
  'event.start_calling': 'début d\'appel', 'event.end_calling': "fin d'appel", 'event.member-queue-start': 'entrée en file',
  'event.agent-offering': 'proposé à un agent', 'event.bridge-agent-start': "réponse de l'agent", 'event.bridge-agent-fail': "l'agent n'a pas répondu",
  'event.bridge-agent-end': "fin de conversation de l'agent", 'event.member-queue-end': 'sortie de file', 'event.members-count': 'appelants en file',
  'event.member-count': 'appelants en file',
  'log.page': 'Page {n} sur {of}', 'log.newer': 'Plus récents', 'log.older': 'Plus anciens', 'log.newest': 'Les plus récents',
  'wall.exit': "Échap : quitter l'écran mural", 'wall.clock': 'Heure',
};

export const WORDS = { en, fr };
const STORE_KEY = 'ovh-cti.language';
let current = 'en';
let choice = 'auto';

/// The language `auto` resolves to: the first of the browser's languages that we speak.
export function browserLanguage() {
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).slice(0, 2).toLowerCase();
    if (WORDS[base]) return base;
  }
  return 'en';
}

/// Applies a choice (`auto`, `fr`, `en`) and remembers it on this browser.
export function setLanguage(value) {
  choice = WORDS[value] ? value : 'auto';
  current = choice === 'auto' ? browserLanguage() : choice;
  try { localStorage.setItem(STORE_KEY, choice); } catch { /* private mode: not remembered */ }
  document.documentElement.lang = current;
}

export function initLanguage() {
  let saved = 'auto';
  try { saved = localStorage.getItem(STORE_KEY) || 'auto'; } catch { /* not available */ }
  setLanguage(saved);
}

export function lang() { return current; }
export function languageChoice() { return choice; }

/// An event's name for a person, with OVH's own name (the one templates and the API use).
export function eventLabel(name) {
  const word = tValue('event', name);
  return word === name ? name : `${word} (${name})`;
}

/// A word for a value the feed or the engine names (an event, a reason): translated when we
/// know it, else the value itself (OVH may add new ones).
export function tValue(prefix, value) {
  if (!value) return '';
  const key = `${prefix}.${value}`;
  return WORDS[current][key] ?? en[key] ?? value;
}

export function t(key, vars) {
  let s = WORDS[current][key] ?? en[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.split(`{${k}}`).join(String(v));
  return s;
}
