// Help, in both languages: what a token is and how to create one with OVHcloud's API, the
// login (and OVH's check of a new token), paused and forgotten tokens, the views and keyboard,
// and the screen-pop modes and variables. Written as data and
// drawn with DOM calls like every other view.

import { h, replace } from './dom.js';
import { lang } from './i18n.js';

const TEXT = {
  en: [
    ['token', 'What is a token?', [
      'An event token gives read access to the call events of your OVHcloud telephony: every line and queue of a billing account, or one line, or one queue. The dashboard uses it as your password. Whoever has it can see your calls: keep it secret.',
      'A token has a lifetime chosen when it is created: 5 minutes, 1 hour, 1 day, 30 days or unlimited. An expired token stops delivering events; the header then says the feed is failing or silent.',
    ]],
    ['create', 'Creating a token', [
      'Tokens are created with the OVHcloud API (api.ovh.com console, or any API client), signed in with your OVHcloud account:',
      ['code', 'POST /telephony/{billingAccount}/eventToken\n{"expiration": "unlimited"}'],
      'covers every line and queue of the billing account (e.g. ab12345-ovh-1). For one line or one queue only:',
      ['code', 'POST /telephony/{billingAccount}/service/{serviceName}/eventToken\n{"expiration": "1 day"}'],
      'GET on the same path shows the existing token; a 404 there means none exists yet. Paste the token into the login page; spaces around it are ignored.',
      'The first time a token is typed, the service asks OVH whether it knows it before following it; this takes a few seconds. "OVH does not know this token": check that it was copied whole and has not expired. "OVH cannot be reached": OVH did not answer; try again in a moment. Nothing is kept of a token OVH refused.',
    ]],
    ['forget', 'Paused tokens, forgetting a token', [
      'A token that OVH keeps refusing (it expired, or was deleted) for 7 days — the administrator may choose another delay — is paused: the service stops asking OVH for it. The header then says "Paused: OVH refuses this token", and what was stored stays readable. Signing in again with the token asks OVH once more and, if OVH accepts it, follows it again; the administrator can also resume it (ovh-cti tokens resume).',
      'Settings → This token → "Forget this token…" makes the service forget your token: it stops following it, signs out everyone using it and closes their dashboards. Its stored history (calls, queue journal, settings, webhooks) is kept, unreadable without the token, and comes back if the token is typed again — unless you tick "Also delete its stored history", which cannot be undone. A token set in the service\'s configuration can only be removed by the administrator.',
    ]],
    ['views', 'Views and keyboard', [
      'Overview: lines (status as a light and a word), queues, calls in progress, call log. Queues: figures, waiting callers, conversations, journal. Wallboard: queues in large type for a wall screen. History: calls and queue journal with filters and CSV download, and the callers to call back. Reports: calls per hour and queue service level over time. Settings: display, queues, time zone, language, screen pop, desktop notifications. Webhooks: endpoints receiving events as signed JSON, and the log of every request the service made.',
      'Keys 1 to 8 open the views in menu order (when the cursor is not in a form field). Tab moves through every control; the first Tab offers a "Skip to content" link.',
      'The header shows the state of the OVH feed: Live (events arrive), Silent for N min (nothing for 2 minutes or more: OVH sometimes goes quiet), Feed stalled (a request to OVH has hung well past the usual 30 s), Feed failing (the service cannot reach OVH or the token is refused), Database not writing (the disk is full or read-only: the last state stays shown, new events wait at OVH and arrive once the database writes again). The page reconnects by itself when the service restarts.',
    ]],
    ['pop', 'Screen pop (customer record)', [
      'On chosen events the dashboard can open a URL, for example your CRM\'s page for the caller. Three modes: Modal (a window inside the dashboard; the remote site may have to allow it), Pop-up (a new browser window: allow pop-ups for this site), Silent (the service itself requests the URL, even when no dashboard is open — for scripts).',
      'Modal: several calls queue up in the window ("1 of 3", Previous / Next); Close or Esc drops the one shown. A site that refuses to be shown inside another page stays blank: use "Open in a new tab". Modal and pop-up need a dashboard open in the browser; silent does not.',
      'Desktop notifications (Settings, per browser, off by default): the browser asks for permission once; each screen pop then shows the caller, the line and its description, and a click brings the dashboard forward and opens the page.',
      'Variables replaced in the URL (URL-encoded): *CALLING* the caller\'s number, *CALLED* the number called, *DIALED* the number dialled, *EVENT* the event type (e.g. start_ringing), *CALLID* the call\'s id, *NUMBER* the line or queue, *DESCRIPTION* its description, *AGENT* the agent (queue events). Example:',
      ['code', 'https://crm.example/lookup?n=*CALLING*&event=*EVENT*'],
      'The URL must start with http:// or https://. The service refuses to call private or local addresses unless the administrator allows them.',
    ]],
    ['popups', 'Allowing pop-ups for the dashboard', [
      'Browsers block windows that a page opens by itself. When that happens the dashboard shows "Pop-up blocked — open the CRM page" instead: click it to open the page. To let the pop-ups open directly, allow them for the dashboard\'s address once:',
      'Chrome, Edge: click the blocked pop-up icon at the right of the address bar, choose "Always allow pop-ups and redirects from …", then Done. Or: Settings → Privacy and security → Site settings → Pop-ups and redirects → Allowed to send pop-ups → Add, and enter the dashboard\'s address.',
      'Firefox: click "Preferences" (or "Options") in the yellow bar that says pop-ups were blocked, then "Allow pop-ups for …". Or: Settings → Privacy & Security → Permissions → Block pop-up windows → Exceptions…, enter the dashboard\'s address, Allow, Save changes.',
    ]],
    ['webhooks', 'Webhooks and the delivery log', [
      'The Webhooks page lists the addresses that receive your events as JSON, signed per the Standard Webhooks spec. The signing secret is shown once, when the endpoint is created: copy it then. "Send test event" sends a test; an endpoint that keeps failing for a day, or answers 410, is disabled and can be enabled again.',
      'The delivery log lists every request the service made (webhooks and silent screen pops): time, address with its values masked, HTTP status, latency, error and attempt. Failures are retried after 5 s, 30 s, 2 min, 10 min and 1 h.',
    ]],
  ],
  fr: [
    ['token', "Qu'est-ce qu'un token ?", [
      "Un token d'événements donne accès en lecture aux événements d'appel de votre téléphonie OVHcloud : toutes les lignes et files d'un compte de facturation, ou une seule ligne, ou une seule file. Le tableau de bord l'utilise comme mot de passe. Quiconque le possède voit vos appels : gardez-le secret.",
      "Un token a une durée de vie choisie à sa création : 5 minutes, 1 heure, 1 jour, 30 jours ou illimitée. Un token expiré ne délivre plus d'événements ; l'en-tête indique alors que le flux est en échec ou silencieux.",
    ]],
    ['create', 'Créer un token', [
      "Les tokens se créent avec l'API OVHcloud (console api.ovh.com ou tout client de l'API), connecté avec votre compte OVHcloud :",
      ['code', 'POST /telephony/{billingAccount}/eventToken\n{"expiration": "unlimited"}'],
      "couvre toutes les lignes et files du compte de facturation (par ex. ab12345-ovh-1). Pour une seule ligne ou une seule file :",
      ['code', 'POST /telephony/{billingAccount}/service/{serviceName}/eventToken\n{"expiration": "1 day"}'],
      "Un GET sur le même chemin montre le token existant ; une erreur 404 signifie qu'il n'en existe pas encore. Collez le token dans la page de connexion ; les espaces autour sont ignorés.",
      "La première fois qu'un token est saisi, le service demande à OVH s'il le connaît avant de le suivre ; cela prend quelques secondes. « OVH ne connaît pas ce token » : vérifiez qu'il a été copié en entier et qu'il n'a pas expiré. « OVH est injoignable » : OVH n'a pas répondu ; réessayez dans un instant. Rien n'est conservé d'un token refusé par OVH.",
    ]],
    ['forget', 'Tokens en pause, oublier un token', [
      "Un token qu'OVH refuse pendant 7 jours (il a expiré ou a été supprimé) — l'administrateur peut choisir un autre délai — est mis en pause : le service cesse de le demander à OVH. L'en-tête indique alors « En pause : OVH refuse ce token », et ce qui a été enregistré reste consultable. Se reconnecter avec le token redemande à OVH et, s'il l'accepte, le service le suit de nouveau ; l'administrateur peut aussi le reprendre (ovh-cti tokens resume).",
      "Configuration → Ce token → « Oublier ce token… » fait oublier votre token au service : il cesse de le suivre, déconnecte tous ceux qui l'utilisent et ferme leurs tableaux de bord. Son historique enregistré (appels, journal des files, configuration, webhooks) est conservé, illisible sans le token, et revient si le token est saisi de nouveau — sauf si vous cochez « Supprimer aussi son historique enregistré », ce qui est irréversible. Un token défini dans la configuration du service ne peut être retiré que par l'administrateur.",
    ]],
    ['views', 'Vues et clavier', [
      "Vue d'ensemble : lignes (état par un voyant et un mot), files, appels en cours, journal des appels. Files d'appels : chiffres, appelants en attente, conversations, journal. Mur : les files en grands caractères pour un écran mural. Historique : appels et journal des files avec filtres et export CSV, et les appelants à rappeler. Rapports : appels par heure et niveau de service des files dans le temps. Configuration : affichage, files, fuseau horaire, langue, appel du CGI, notifications du bureau. Webhooks : les adresses qui reçoivent les événements en JSON signé, et le journal de chaque requête du service.",
      "Les touches 1 à 8 ouvrent les vues dans l'ordre du menu (hors d'un champ de saisie). Tab parcourt toutes les commandes ; la première tabulation propose un lien « Aller au contenu ».",
      "L'en-tête montre l'état du flux OVH : En direct (les événements arrivent), Silencieux depuis N min (rien depuis 2 minutes ou plus : OVH se tait parfois), Flux bloqué (une requête à OVH reste sans réponse bien au-delà des 30 s habituelles), Flux en échec (le service n'atteint pas OVH ou le token est refusé), Base de données en échec (disque plein ou en lecture seule : le dernier état reste affiché, les nouveaux événements attendent chez OVH et arrivent dès que la base écrit de nouveau). La page se reconnecte seule quand le service redémarre.",
    ]],
    ['pop', 'Appel du CGI (fiche client)', [
      "Sur les événements choisis, le tableau de bord peut ouvrir une URL, par exemple la fiche de l'appelant dans votre CRM. Trois modes : Modal (une fenêtre dans le tableau de bord ; le site distant doit parfois l'autoriser), Popup (une nouvelle fenêtre : autorisez les popups pour ce site), Silencieux (le service appelle lui-même l'URL, même sans tableau de bord ouvert — pour des scripts).",
      "Modal : plusieurs appels s'empilent dans la fenêtre (« 1 sur 3 », Précédent / Suivant) ; Fermer ou Échap retire celui affiché. Un site qui refuse d'être affiché dans une autre page reste blanc : utilisez « Ouvrir dans un nouvel onglet ». Les modes modal et popup demandent un tableau de bord ouvert dans le navigateur ; le mode silencieux non.",
      "Notifications du bureau (Configuration, par navigateur, désactivées par défaut) : le navigateur demande une fois l'autorisation ; chaque appel du CGI affiche alors l'appelant, la ligne et sa description, et un clic ramène le tableau de bord et ouvre la page.",
      "Variables remplacées dans l'URL (encodées) : *CALLING* le numéro de l'appelant, *CALLED* le numéro appelé, *DIALED* le numéro composé, *EVENT* le type d'événement (par ex. start_ringing), *CALLID* l'identifiant de l'appel, *NUMBER* la ligne ou la file, *DESCRIPTION* sa description, *AGENT* l'agent (événements de file). Exemple :",
      ['code', 'https://crm.example/lookup?n=*CALLING*&event=*EVENT*'],
      "L'URL doit commencer par http:// ou https://. Le service refuse d'appeler des adresses privées ou locales sauf si l'administrateur les autorise.",
    ]],
    ['popups', 'Autoriser les popups du tableau de bord', [
      "Les navigateurs bloquent les fenêtres qu'une page ouvre d'elle-même. Dans ce cas le tableau de bord affiche « Popup bloquée — ouvrir la fiche du CRM » : cliquez dessus pour ouvrir la page. Pour que les popups s'ouvrent directement, autorisez-les une fois pour l'adresse du tableau de bord :",
      "Chrome, Edge : cliquez sur l'icône de popup bloquée à droite de la barre d'adresse, choisissez « Toujours autoriser les pop-up et les redirections de … », puis OK. Ou : Paramètres → Confidentialité et sécurité → Paramètres des sites → Pop-up et redirections → Autorisés à envoyer des pop-up → Ajouter, et saisissez l'adresse du tableau de bord.",
      "Firefox : cliquez sur « Préférences » (ou « Options ») dans la barre jaune qui signale les popups bloquées, puis « Autoriser les popups pour … ». Ou : Paramètres → Vie privée et sécurité → Permissions → Bloquer les fenêtres popup → Exceptions…, saisissez l'adresse du tableau de bord, Autoriser, Enregistrer les modifications.",
    ]],
    ['webhooks', 'Webhooks et journal des envois', [
      "La page Webhooks liste les adresses qui reçoivent vos événements en JSON, signés selon la spécification Standard Webhooks. Le secret de signature n'est affiché qu'une fois, à la création : copiez-le à ce moment. « Envoyer un événement de test » envoie un test ; un point de réception en échec depuis un jour, ou qui répond 410, est désactivé et peut être réactivé.",
      "Le journal des envois liste chaque requête du service (webhooks et appels du CGI silencieux) : heure, adresse aux valeurs masquées, statut HTTP, latence, erreur et tentative. Les échecs sont renvoyés après 5 s, 30 s, 2 min, 10 min et 1 h.",
    ]],
  ],
};

export function render(root) {
  const sections = TEXT[lang()] || TEXT.en;
  replace(root,
    h('h1', { text: lang() === 'fr' ? 'Aide' : 'Help' }),
    h('nav', { class: 'toc', 'aria-label': lang() === 'fr' ? 'Sommaire' : 'Contents' },
      h('ul', {}, sections.map(([id, title]) => h('li', {}, h('a', { href: `#${id}`, text: title }))))),
    sections.map(([id, title, paras]) => h('section', { id, 'aria-labelledby': `h-${id}` },
      h('h2', { id: `h-${id}`, text: title }),
      paras.map((p) => (Array.isArray(p) ? h('pre', {}, h('code', { text: p[1] })) : h('p', { text: p }))))),
  );
  const anchor = location.hash && document.getElementById(location.hash.slice(1));
  if (anchor) anchor.scrollIntoView();
}
