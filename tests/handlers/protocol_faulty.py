"""faulty:// -- a loop:// port whose read raises an unexpected exception once `boom` is written."""

from serial.urlhandler import protocol_loop


class Serial(protocol_loop.Serial):
    boom = False

    def from_url(self, url):
        return super().from_url(url.replace("faulty://", "loop://", 1))

    def write(self, data):
        if b"boom" in bytes(data):
            self.boom = True
        return super().write(data)

    def read(self, size=1):
        if self.boom:
            raise RuntimeError("injected fault in the transport")
        return super().read(size)
