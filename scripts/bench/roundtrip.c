// Benchmark (not a test): CPU time and thread switches per round trip on tcp loopback, for nng's REQ/REP
// sockets against a bare nng byte stream (what the project's transport speaks REQ/REP's wire format over).
// Built and run by scripts/bench/roundtrip.
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdint.h>
static double cpu(){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_utime.tv_sec+r.ru_utime.tv_usec/1e6+r.ru_stime.tv_sec+r.ru_stime.tv_usec/1e6;}
static long nvcsw(){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_nvcsw+r.ru_nivcsw;}
#define N 20000
#define SZ 1000
static void sendall(nng_stream*s, nng_aio*a, uint8_t*b,size_t n){while(n){nng_iov v={b,n};nng_aio_set_iov(a,1,&v);nng_stream_send(s,a);nng_aio_wait(a);if(nng_aio_result(a)){printf("send err\n");exit(1);}size_t c=nng_aio_count(a);b+=c;n-=c;}}
static void recvall(nng_stream*s, nng_aio*a, uint8_t*b,size_t n){while(n){nng_iov v={b,n};nng_aio_set_iov(a,1,&v);nng_stream_recv(s,a);nng_aio_wait(a);if(nng_aio_result(a)){printf("recv err %d\n",nng_aio_result(a));exit(1);}size_t c=nng_aio_count(a);b+=c;n-=c;}}
int main(int argc,char**argv){
  const char*mode=argv[1]; const char*url="tcp://127.0.0.1:45111";
  uint8_t buf[SZ+16]; memset(buf,1,sizeof buf);
  if(!strcmp(mode,"rep")){nng_socket s;nng_rep0_open(&s);nng_listen(s,url,NULL,0);
    double c0=cpu();long w0=nvcsw();
    for(int i=0;i<N;i++){nng_msg*m;nng_recvmsg(s,&m,0);nng_sendmsg(s,m,0);}
    printf("rep: %.1f us cpu/msg, %.1f csw/msg\n",(cpu()-c0)/N*1e6,(double)(nvcsw()-w0)/N);}
  if(!strcmp(mode,"req")){nng_socket s;nng_req0_open(&s);nng_dial(s,url,NULL,0);
    double c0=cpu();long w0=nvcsw();
    for(int i=0;i<N;i++){nng_msg*m;nng_msg_alloc(&m,SZ);nng_sendmsg(s,m,0);nng_recvmsg(s,&m,0);nng_msg_free(m);}
    printf("req: %.1f us cpu/msg, %.1f csw/msg\n",(cpu()-c0)/N*1e6,(double)(nvcsw()-w0)/N);}
  if(!strcmp(mode,"ss")){nng_stream_listener*l;nng_stream_listener_alloc(&l,url);nng_stream_listener_listen(l);
    nng_aio*a;nng_aio_alloc(&a,NULL,NULL);nng_stream_listener_accept(l,a);nng_aio_wait(a);nng_stream*st=nng_aio_get_output(a,0);
    double c0=cpu();long w0=nvcsw();
    for(int i=0;i<N;i++){recvall(st,a,buf,SZ);sendall(st,a,buf,SZ);}
    printf("stream server: %.1f us cpu/msg, %.1f csw/msg\n",(cpu()-c0)/N*1e6,(double)(nvcsw()-w0)/N);}
  if(!strcmp(mode,"sc")){nng_stream_dialer*d;nng_stream_dialer_alloc(&d,url);
    nng_aio*a;nng_aio_alloc(&a,NULL,NULL);nng_stream_dialer_dial(d,a);nng_aio_wait(a);if(nng_aio_result(a)){printf("dial err\n");return 1;}nng_stream*st=nng_aio_get_output(a,0);
    double c0=cpu();long w0=nvcsw();
    for(int i=0;i<N;i++){sendall(st,a,buf,SZ);recvall(st,a,buf,SZ);}
    printf("stream client: %.1f us cpu/msg, %.1f csw/msg\n",(cpu()-c0)/N*1e6,(double)(nvcsw()-w0)/N);}
  return 0;}
