# Shared by the .deb postinst and the .rpm %pre (POSIX sh): the teleport system group and
# user that tbot.service and tauth.service run as, idempotent. groupadd/useradd rather than
# Debian's adduser because both families have them (passwd, shadow-utils). The user is in
# tss where that group exists (tpm-udev gives it /dev/tpmrm0); the packages re-run this when
# a package providing tss arrives later (dpkg file trigger, rpm %triggerin).
if ! getent group teleport >/dev/null; then
	groupadd --system teleport
fi
if ! getent passwd teleport >/dev/null; then
	useradd --system --gid teleport --home-dir /var/lib/teleport --no-create-home \
		--shell /usr/sbin/nologin --comment "Teleport machine identity" teleport
fi
if getent group tss >/dev/null; then
	case " $(id -nG teleport) " in
	*" tss "*) ;;
	*) usermod --append --groups tss teleport ;;
	esac
fi
