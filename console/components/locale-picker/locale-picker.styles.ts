import { sharedStyles } from '../../styles/shared.styles.js'

export const styles = [sharedStyles]
