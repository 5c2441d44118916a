/** 简体中文 */
import type { Translation } from './translation.js'

export const zhCN: Translation = {
  $code: 'zh-CN',
  $name: '简体中文',

  appTitle: '客服工作台',
  titleWithBadge: (count, title) => `(${count}) ${title}`,

  loginTitle: '登录',
  loginIntro: '使用客服账号登录，接待访客。',
  uidLabel: '用户 ID',
  passwordLabel: '密码',
  loginButton: '登录',
  loggingIn: '正在登录…',
  logout: '退出登录',
  signedInAs: (uid) => `当前账号：${uid}`,
  sessionEnded: '登录已失效，请重新登录。',
  notAnAgent: '该账号不是客服账号。',

  statusLabel: '状态',
  status: { online: '在线', away: '离开', offline: '离线' },
  capacityLabel: '接待上限',
  load: (active, capacity) => `${active} / ${capacity} 个会话`,

  languageLabel: '语言',
  soundLabel: '声音提醒',
  desktopLabel: '桌面通知',
  desktopDenied: '浏览器已禁止本页面的通知。',

  connecting: '正在连接…',
  reconnecting: (attempt) => `连接已断开，正在重新连接…（第 ${attempt} 次）`,
  connectionLost: '连接已断开，正在重新连接…',
  resynced: '已重新连接。',

  queueTitle: '排队中',
  queueEmpty: '暂无访客排队。',
  waitingFor: (duration) => `已等待 ${duration}`,
  claim: '接入',
  claimLabel: (name) => `接入与 ${name} 的会话`,
  queueCount: (count) => `${count} 位访客排队中`,
  queueShown: (shown, total) => `显示 ${shown} / ${total}`,
  queueMore: '显示更多',
  noMessageYet: '尚未留言',

  myChatsTitle: '我的会话',
  noChats: '暂无进行中的会话。',
  recentTitle: '最近结束',
  unread: (count) => `${count} 条未读消息`,
  newChat: '新',
  transferredAway: (to) => `已转接给 ${to}`,
  backToQueue: '已退回队列',

  noChatSelected: '请在左侧选择一个会话。',
  chatWith: (name) => `与 ${name} 的会话`,
  messagesLabel: '消息',
  noMessages: '暂无消息。',
  you: '我',
  visitor: '访客',
  typing: (name) => `${name} 正在输入…`,
  seen: '已读',
  pendingStatus: { queued: '等待连接…', sending: '发送中…', stored: '已发送', failed: '发送失败' },
  recalled: '此消息已撤回。',
  edited: '已编辑',
  composerLabel: '回复内容',
  composerPlaceholder: '输入回复…',
  composerHint: '按 Enter 发送，Shift+Enter 换行。',
  send: '发送',
  cannedLabel: '快捷回复',
  cannedNone: '插入快捷回复…',
  transfer: '转接',
  closeChat: '结束会话',
  closedBecause: (reason) => `会话已结束：${reason}`,
  closeReasons: {
    agent: '客服结束了会话',
    visitor: '访客结束了会话',
    idle: '访客已离开（空闲）',
    silence: '访客长时间未回复',
    'transfer-timeout': '转接超时',
    admin: '管理员结束了会话'
  },
  waitingState: '该会话正在排队。',
  readOnly: '历史会话（只读）',
  backToChat: '返回当前会话',
  pastChatTitle: (date) => `${date} 的历史会话`,
  rating: (score) => `评分 ${score} / 5`,

  transferTitle: '转接会话',
  transferIntro: '将会话转给其他客服，或放回队列最前面。',
  transferToAgent: (uid, active, capacity) => `${uid}（${active} / ${capacity} 个会话）`,
  transferToQueue: '退回队列',
  noAgentsAvailable: '没有其他可用的客服。',
  cancel: '取消',
  confirmTransfer: '转接',

  visitorTitle: '访客',
  contextFields: { name: '姓名', email: '邮箱', url: '当前页面', referrer: '来源', locale: '语言', userAgent: '浏览器' },
  noContext: '访客未提供任何信息。',
  pastChats: '历史会话',
  noPastChats: '没有更早的会话。',
  pastChatLabel: (date, state) => `${date} · ${state}`,
  chatStates: { waiting: '排队中', active: '进行中', closed: '已结束' },

  duration: (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000))
    if (s < 60) return `${s} 秒`
    const m = Math.floor(s / 60)
    if (m < 60) return `${m} 分 ${s % 60} 秒`
    return `${Math.floor(m / 60)} 小时 ${m % 60} 分`
  },

  notifyAssigned: (name) => `新会话：${name}`,
  notifyMessage: (name) => `${name} 发来新消息`,

  errors: {
    IM_ERR_BAD_CREDENTIALS: '用户 ID 或密码错误。',
    IM_ERR_UNAUTHENTICATED: '请重新登录。',
    IM_ERR_TOKEN_EXPIRED: '登录已过期，请重新登录。',
    IM_ERR_PRINCIPAL_DISABLED: '该账号已被停用，请联系管理员。',
    IM_ERR_RATE_LIMITED: '尝试次数过多，请稍候再试。',
    IM_ERR_FORBIDDEN: '您没有权限执行此操作。',
    IM_ERR_NOT_FOUND: '该内容已不存在。',
    IM_ERR_ALREADY_ASSIGNED: '该会话已被其他客服接入。',
    IM_ERR_AGENT_FULL: '接待已满：请提高接待上限或结束一个会话。',
    IM_ERR_CONVERSATION_CLOSED: '该会话已结束。',
    IM_ERR_PAYLOAD_TOO_LARGE: '消息太长了。',
    IM_ERR_BAD_REQUEST: '请求未被接受。',
    IM_ERR_INTERNAL: '服务器出错了。'
  },
  errorNetwork: '无法连接服务器。',
  errorGeneric: '出错了。',
  dismiss: '关闭'
}
