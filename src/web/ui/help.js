// Help, in both languages: what a token is and how to create one with OVHcloud's API, the
// login, the views and keyboard, and the screen-pop modes and variables. Written as data and
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
    ]],
    ['views', 'Views and keyboard', [
      'Overview: lines (status as a light and a word), queues, calls in progress, call log. Queues: figures, waiting callers, conversations, journal. Wallboard: queues in large type for a wall screen. History: calls and queue journal with filters and CSV download, and the callers to call back. Reports: calls per hour and queue service level over time. Settings: display, queues, time zone, language, screen pop.',
      'Keys 1 to 7 open the views in menu order (when the cursor is not in a form field). Tab moves through every control; the first Tab offers a "Skip to content" link.',
      'The header shows the state of the OVH feed: Live (events arrive), Silent for N min (nothing for 2 minutes or more: OVH sometimes goes quiet), Feed failing (the service cannot reach OVH or the token is refused). The page reconnects by itself when the service restarts.',
    ]],
    ['pop', 'Screen pop (customer record)', [
      'On chosen events the dashboard can open a URL, for example your CRM\'s page for the caller. Three modes: Modal (a window inside the dashboard; the remote site may have to allow it), Pop-up (a new browser window: allow pop-ups for this site), Silent (the service itself requests the URL, even when no dashboard is open — for scripts).',
      'Variables replaced in the URL (URL-encoded): *CALLING* the caller\'s number, *CALLED* the number called, *DIALED* the number dialled, *EVENT* the event type (e.g. start_ringing). Example:',
      ['code', 'https://crm.example/lookup?n=*CALLING*&event=*EVENT*'],
      'The URL must start with http:// or https://. The service refuses to call private or local addresses unless the administrator allows them.',
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
    ]],
    ['views', 'Vues et clavier', [
      "Vue d'ensemble : lignes (état par un voyant et un mot), files, appels en cours, journal des appels. Files d'appels : chiffres, appelants en attente, conversations, journal. Mur : les files en grands caractères pour un écran mural. Historique : appels et journal des files avec filtres et export CSV, et les appelants à rappeler. Rapports : appels par heure et niveau de service des files dans le temps. Configuration : affichage, files, fuseau horaire, langue, appel du CGI.",
      "Les touches 1 à 7 ouvrent les vues dans l'ordre du menu (hors d'un champ de saisie). Tab parcourt toutes les commandes ; la première tabulation propose un lien « Aller au contenu ».",
      "L'en-tête montre l'état du flux OVH : En direct (les événements arrivent), Silencieux depuis N min (rien depuis 2 minutes ou plus : OVH se tait parfois), Flux en échec (le service n'atteint pas OVH ou le token est refusé). La page se reconnecte seule quand le service redémarre.",
    ]],
    ['pop', 'Appel du CGI (fiche client)', [
      "Sur les événements choisis, le tableau de bord peut ouvrir une URL, par exemple la fiche de l'appelant dans votre CRM. Trois modes : Modal (une fenêtre dans le tableau de bord ; le site distant doit parfois l'autoriser), Popup (une nouvelle fenêtre : autorisez les popups pour ce site), Silencieux (le service appelle lui-même l'URL, même sans tableau de bord ouvert — pour des scripts).",
      "Variables remplacées dans l'URL (encodées) : *CALLING* le numéro de l'appelant, *CALLED* le numéro appelé, *DIALED* le numéro composé, *EVENT* le type d'événement (par ex. start_ringing). Exemple :",
      ['code', 'https://crm.example/lookup?n=*CALLING*&event=*EVENT*'],
      "L'URL doit commencer par http:// ou https://. Le service refuse d'appeler des adresses privées ou locales sauf si l'administrateur les autorise.",
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
