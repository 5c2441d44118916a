/** 简体中文 */
import type { WidgetTranslation } from './translation.js'

const ERRORS: Record<string, string> = {
  IM_ERR_PAYLOAD_TOO_LARGE: '消息太长了。',
  IM_ERR_CONVERSATION_CLOSED: '本次会话已结束，请开始新的会话。',
  IM_ERR_UNKNOWN_SITE: '本站点尚未开通在线客服。',
  IM_ERR_UNAUTHENTICATED: '会话已过期，请刷新页面。',
  IM_ERR_TOKEN_EXPIRED: '会话已过期，请刷新页面。',
  IM_ERR_RATE_LIMITED: '发送太频繁了，请稍候再试。',
  CLIENT_OFFLINE: '当前处于离线状态，请在网络恢复后重试。'
}

export const zhCN: WidgetTranslation = {
  $code: 'zh-CN',

  openChat: '打开在线客服',
  closeChat: '关闭在线客服',
  unread: (n) => `${n} 条未读消息`,

  title: '在线客服',
  minimize: '收起聊天窗口',
  endChat: '结束会话',
  waitingForAgent: '客服马上就来。',
  queuePosition: (p) => p === 1 ? '下一位就是您。' : `您前面还有 ${p - 1} 位。`,
  agentJoined: (name) => `${name} 已加入会话。`,
  agentAvatar: (name) => `${name} 的头像`,
  agentFallbackName: '客服',
  offlineNotice: '当前没有客服在线。请留言，我们会在这里回复您。',
  queuedNotice: '谢谢！客服马上就来。',
  greeting: '您好！有什么可以帮您？',

  messagesLabel: '消息',
  you: '我',
  today: '今天',
  yesterday: '昨天',
  sending: '发送中…',
  sent: '已发送',
  read: '已读',
  failed: '发送失败',
  retry: '重试',
  recalled: '此消息已撤回。',
  agentTyping: (name) => `${name} 正在输入…`,
  announceMessage: (from, text) => `${from}：${text}`,
  unsupportedMessage: '此消息无法在这里显示。',

  messageLabel: '您的消息',
  placeholder: '输入消息…',
  send: '发送',

  prechatIntro: '请留下您的称呼，我们马上为您服务。',
  nameLabel: '称呼',
  emailLabel: '邮箱',
  emailInvalid: '请输入有效的邮箱地址。',
  required: '请填写此项。',
  startChat: '开始咨询',

  closed: (reason) => {
    switch (reason) {
      case 'visitor': return '您已结束会话。'
      case 'idle': return '由于您长时间未操作，会话已结束。'
      case 'silence': return '由于长时间无消息，会话已结束。'
      default: return '客服已结束会话。'
    }
  },
  ratePrompt: '您对本次服务满意吗？',
  rateStars: (n) => `${n} 星`,
  commentLabel: '还有什么想说的？（可选）',
  submitRating: '提交评价',
  ratingThanks: '感谢您的评价！',
  newChat: '开始新的会话',

  connecting: '正在连接…',
  reconnecting: '正在重新连接…',
  reconnected: '已重新连接。',
  loadFailed: '聊天窗口加载失败。',
  tryAgain: '重试',
  error: (code) => ERRORS[code] ?? '出错了，请重试。'
}
