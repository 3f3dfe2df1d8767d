# frozen_string_literal: true

module EmWebSocketRs
  # `stream_file_data` for a WebSocket connection: EventMachine's
  # FileStreamer contract (a Deferrable that succeeds once the whole file is
  # queued, fails with "file not found", `:http_chunks`), reading the file a
  # chunk at a time so that a large one is never held whole in memory.
  #
  # Chunks are queued while the outbound buffer is at most the connection's
  # `:drain_threshold`; the chunk that takes it past the threshold arms the
  # native drain, and streaming goes on when the buffer has been written out.
  # With `:outbound_limit`, a chunk is queued only where it fits under the
  # limit, so streaming never aborts the connection by itself. Where no drain
  # is owed (a threshold of 0, or a limit below it), the buffer is looked at
  # again after a short timer instead.
  #
  # Returned by {EventMachineMethods#stream_file_data}.
  # @example
  #   ws.stream_file_data(path, http_chunks: true)
  #     .callback { ws.close_connection_after_writing }
  #     .errback  { |reason| warn reason }
  class FileStreamer
    include EventMachine::Deferrable

    # Bytes read from the file at a time (16 KiB).
    CHUNK_SIZE = 16_384
    # Seconds between looks at the buffer when no drain will be reported.
    RECHECK = 0.002

    # Starts streaming at once (made by `stream_file_data`); fails with "file
    # not found" for a file that does not exist, or a directory.
    # @param connection [EventMachine::WebSocket::Connection]
    # @param filename [String]
    # @param args [Hash] `:http_chunks`
    # @api private
    def initialize(connection, filename, args = {})
      @connection = connection
      @http_chunks = args[:http_chunks]
      @file = File.open(filename, 'rb')
      @remaining = @file.size
      @connection.__send__(:_rs_add_stream, self)
      stream
    rescue Errno::ENOENT, Errno::EISDIR
      fail "file not found"
    end

    # Queues chunks while there is room; called again when the buffer drains.
    # Succeeds once the whole file is queued; fails with "connection closed"
    # when the connection has ended first.
    # @return [void]
    # @api private
    def stream
      return if @file.nil?
      return finish { fail "connection closed" } if @connection._rs_native.closed?

      while @remaining.positive?
        room = room_for_chunk
        return pause if room.zero?

        chunk = @file.read([CHUNK_SIZE, room, @remaining].min)
        return finish { fail "file shrank while streaming" } if chunk.nil?

        @remaining -= chunk.bytesize
        send_chunk(chunk)
      end
      @connection.send_data("0\r\n\r\n") if @http_chunks
      finish { succeed }
    end

    private

    # Bytes that may be queued now: the largest chunk that stays under the
    # outbound limit, nothing while the buffer is above the drain threshold.
    def room_for_chunk
      queued = @connection.get_outbound_data_size
      return 0 if queued > native.drain_threshold

      limit = native.outbound_limit
      return CHUNK_SIZE if limit.zero?

      # A chunked-encoding frame adds its size line and CRLF.
      overhead = @http_chunks ? 12 : 0
      [limit - queued - overhead, 0].max
    end

    def send_chunk(chunk)
      if @http_chunks
        @connection.send_data("#{chunk.bytesize.to_s(16)}\r\n")
        @connection.send_data(chunk)
        @connection.send_data("\r\n")
      else
        @connection.send_data(chunk)
      end
    end

    # Waits for the drain when one is owed, else for a timer.
    def pause
      threshold = native.drain_threshold
      return if threshold.positive? && @connection.get_outbound_data_size > threshold

      EventMachine.add_timer(RECHECK) { stream }
    end

    def native
      @connection._rs_native
    end

    def finish
      @file.close
      @file = nil
      @connection.__send__(:_rs_remove_stream, self)
      yield
    end
  end
end
